"""VRT XML written by hand, byte for byte the same on every run (so unchanged files stay unchanged).

Two uses: the source of a COG (split pieces stitched, scale/offset/description set,
a mask band from a mask file) and the mosaic of a date and
layer (tile COGs by relative path, so it opens locally and over /vsicurl/).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from xml.sax.saxutils import escape

from rasterio.crs import CRS

from leafcube.catalogue.models import LayerSpec

_GDAL_TYPES = {
    "uint8": "Byte",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
}


@dataclass(frozen=True)
class Placed:
    """A source raster band placed at a pixel offset of the VRT's grid."""

    path: str
    width: int
    height: int
    col: int
    row: int
    relative: bool = False
    band: str = "1"


@cache
def srs_wkt(crs: str) -> str:
    """The WKT of a CRS such as ``EPSG:3979``."""
    return CRS.from_user_input(crs).to_wkt()


def _sources(items: Iterable[Placed], dtype: str, composite: str | None = None) -> str:
    """Source elements: plain copies, or for a mosaic sources drawn only where they have data.

    ``composite`` is ``mask`` (a source's pixels count only where its mask band is set,
    GDAL's ``UseMaskBand``) or ``nodata`` (its zeros are skipped): so where tiles overlap
    a tile's masked zeros never cover its neighbour's data.
    """
    tag = "ComplexSource" if composite else "SimpleSource"
    extra = {
        None: "",
        "mask": "      <UseMaskBand>true</UseMaskBand>\n",
        "nodata": "      <NODATA>0</NODATA>\n",
    }[composite]
    parts = []
    for s in items:
        rel = ' relativeToVRT="1"' if s.relative else ' relativeToVRT="0"'
        parts.append(
            f"    <{tag}>\n"
            f"      <SourceFilename{rel}>{escape(s.path)}</SourceFilename>\n"
            f"      <SourceBand>{s.band}</SourceBand>\n"
            f'      <SourceProperties RasterXSize="{s.width}" RasterYSize="{s.height}" '
            f'DataType="{dtype}" BlockXSize="512" BlockYSize="512"/>\n'
            f'      <SrcRect xOff="0" yOff="0" xSize="{s.width}" ySize="{s.height}"/>\n'
            f'      <DstRect xOff="{s.col}" yOff="{s.row}" xSize="{s.width}" ySize="{s.height}"/>\n'
            f"{extra}"
            f"    </{tag}>\n"
        )
    return "".join(parts)


def vrt_xml(
    spec: LayerSpec,
    crs: str,
    transform: Sequence[float],
    shape: tuple[int, int],
    sources: Sequence[Placed],
    mask: Sequence[Placed] = (),
    mosaic: bool = False,
) -> str:
    """A one-band VRT of ``sources`` carrying the layer's metadata and an optional mask band.

    ``transform`` is GDAL's geotransform order (x0, dx, 0, y0, 0, dy); ``mask`` sources
    are 0/255 bands (mask files, or ``mask,1`` of already masked COGs). A ``mosaic``
    draws each source only where it has data (its mask, or its nodata for Partition).
    """
    height, width = shape
    gdal_type = _GDAL_TYPES[spec.dtype]
    gt = ", ".join(repr(float(v)) for v in transform)
    data_mode = None
    if mosaic:
        data_mode = "mask" if mask else ("nodata" if spec.nodata is not None else None)
    nodata = f"    <NoDataValue>{spec.nodata:g}</NoDataValue>\n" if spec.nodata is not None else ""
    xml = (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
        f"  <SRS>{escape(srs_wkt(crs))}</SRS>\n"
        f"  <GeoTransform>{gt}</GeoTransform>\n"
        f'  <VRTRasterBand dataType="{gdal_type}" band="1">\n'
        f"    <Description>{escape(spec.name)}</Description>\n"
        f"{nodata}"
        f"    <UnitType>{escape(spec.unit)}</UnitType>\n"
        f"    <Offset>{spec.offset!r}</Offset>\n"
        f"    <Scale>{spec.scale!r}</Scale>\n"
        f"{_sources(sources, gdal_type, data_mode)}"
        f"  </VRTRasterBand>\n"
    )
    if mask:
        xml += (
            "  <MaskBand>\n"
            '    <VRTRasterBand dataType="Byte">\n'
            f"{_sources(mask, 'Byte', 'nodata' if mosaic else None)}"
            "    </VRTRasterBand>\n"
            "  </MaskBand>\n"
        )
    return xml + "</VRTDataset>\n"
