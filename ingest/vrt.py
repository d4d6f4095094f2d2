"""VRT XML written by hand, byte for byte the same on every run (so unchanged files stay unchanged).

Three uses: the source of a COG (split pieces stitched, scale/offset/description set,
the nodata DN burnt in where a mask file says no data), the source of a COG rewritten
from an older cube's COG (its mask band turned into the nodata DN), and the mosaic of a
date and layer (tile COGs by relative path, so it opens locally and over /vsicurl/).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from xml.sax.saxutils import escape

from rasterio.crs import CRS

from leafcube.catalogue.grid import BLOCK
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


def _num(v: float) -> str:
    """A pixel coordinate as written: a whole number without decimals, else Python's shortest
    exact repr (so the same geometry always gives the same text)."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _source(
    s: Placed, dtype: str, tag: str, extra: str = "", scale: tuple[float, float] = (1.0, 1.0)
) -> str:
    """One source element; ``scale`` shrinks its place on the VRT's grid (an overview level's
    grid: the whole source is read into a smaller, possibly fractional, rectangle)."""
    rel = ' relativeToVRT="1"' if s.relative else ' relativeToVRT="0"'
    sx, sy = scale
    dst = (
        f'xOff="{_num(s.col * sx)}" yOff="{_num(s.row * sy)}" '
        f'xSize="{_num(s.width * sx)}" ySize="{_num(s.height * sy)}"'
    )
    return (
        f"    <{tag}>\n"
        f"      <SourceFilename{rel}>{escape(s.path)}</SourceFilename>\n"
        f"      <SourceBand>{s.band}</SourceBand>\n"
        f'      <SourceProperties RasterXSize="{s.width}" RasterYSize="{s.height}" '
        f'DataType="{dtype}" BlockXSize="{BLOCK}" BlockYSize="{BLOCK}"/>\n'
        f'      <SrcRect xOff="0" yOff="0" xSize="{s.width}" ySize="{s.height}"/>\n'
        f"      <DstRect {dst}/>\n"
        f"{extra}"
        f"    </{tag}>\n"
    )


def _dataset(
    spec: LayerSpec, crs: str, transform: Sequence[float], shape: tuple[int, int], sources: str
) -> str:
    """A one-band VRT carrying the layer's metadata (its nodata DN included)."""
    height, width = shape
    gt = ", ".join(repr(float(v)) for v in transform)
    nodata = f"    <NoDataValue>{spec.nodata:g}</NoDataValue>\n" if spec.nodata is not None else ""
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
        f"  <SRS>{escape(srs_wkt(crs))}</SRS>\n"
        f"  <GeoTransform>{gt}</GeoTransform>\n"
        f'  <VRTRasterBand dataType="{_GDAL_TYPES[spec.dtype]}" band="1">\n'
        f"    <Description>{escape(spec.name)}</Description>\n"
        f"{nodata}"
        f"    <UnitType>{escape(spec.unit)}</UnitType>\n"
        f"    <Offset>{spec.offset!r}</Offset>\n"
        f"    <Scale>{spec.scale!r}</Scale>\n"
        f"{sources}"
        f"  </VRTRasterBand>\n"
        "</VRTDataset>\n"
    )


def cog_source_xml(
    spec: LayerSpec,
    crs: str,
    transform: Sequence[float],
    shape: tuple[int, int],
    sources: Sequence[Placed],
    source_dtype: str,
    mask: Placed | None = None,
) -> str:
    """The VRT a COG is made from: ``sources`` (LEAF's pieces, copied as they are into the
    layer's type) and, where the 0/255 ``mask`` file is 0, the layer's nodata DN (a source
    of the mask scaled to the nodata value, skipped where the mask is 255)."""
    parts = [_source(s, _GDAL_TYPES[source_dtype], "SimpleSource") for s in sources]
    if mask is not None:
        if spec.nodata is None:
            raise ValueError(f"{spec.name}: a masked layer needs a nodata DN")
        burn = (
            "      <NODATA>255</NODATA>\n"
            f"      <ScaleOffset>{spec.nodata:g}</ScaleOffset>\n"
            "      <ScaleRatio>0</ScaleRatio>\n"
        )
        parts.append(_source(mask, "Byte", "ComplexSource", burn))
    return _dataset(spec, crs, transform, shape, "".join(parts))


def upgrade_xml(
    spec: LayerSpec, crs: str, transform: Sequence[float], old: Placed, old_dtype: str
) -> str:
    """The VRT that rewrites an older cube's COG (DNs plus an internal mask band) in the
    layer's current encoding: its DNs where its mask is set, the nodata DN elsewhere."""
    use_mask = "      <UseMaskBand>true</UseMaskBand>\n"
    src = _source(old, _GDAL_TYPES[old_dtype], "ComplexSource", use_mask)
    return _dataset(spec, crs, transform, (old.height, old.width), src)


def _overview(path: str) -> str:
    """An ``<Overview>`` element: band 1 of a VRT next to this one (path relative to it)."""
    return (
        "    <Overview>\n"
        f'      <SourceFilename relativeToVRT="1">{escape(path)}</SourceFilename>\n'
        "      <SourceBand>1</SourceBand>\n"
        "    </Overview>\n"
    )


def mosaic_source_xml(
    spec: LayerSpec,
    crs: str,
    transform: Sequence[float],
    shape: tuple[int, int],
    tiles: Sequence[Placed],
    overviews: Sequence[str] = (),
    scale: tuple[float, float] = (1.0, 1.0),
) -> str:
    """A date's mosaic of tile COGs: each drawn only where it has data (its nodata DN is
    skipped), so where tiles overlap a tile's no data never covers its neighbour's data.

    ``overviews`` are the mosaic's overview levels (VRT paths relative to this one), so
    zoomed-out reads (QGIS, warps, rio-tiler) go to them instead of full resolution. A level
    is this same mosaic on a coarser grid: ``scale`` (level size / full size, per axis)
    shrinks each tile's rectangle, and GDAL then reads each whole tile downsampled, which it
    serves from the tile COG's own internal overview of that factor.
    """
    if spec.nodata is None:
        raise ValueError(f"{spec.name}: a mosaic needs the layer's nodata DN")
    skip = f"      <NODATA>{spec.nodata:g}</NODATA>\n"
    gdal_type = _GDAL_TYPES[spec.dtype]
    parts = "".join(_source(t, gdal_type, "ComplexSource", skip, scale) for t in tiles)
    parts += "".join(_overview(path) for path in overviews)
    return _dataset(spec, crs, transform, shape, parts)
