"""WMTS 1.0 capabilities (RESTful) with a ``time`` Dimension, as QGIS and OWSLib read them."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from leafcube.catalogue import Collection
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter

from . import tms

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" '
    'xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:gml="http://www.opengis.net/gml" version="1.0.0">\n'
)


def _operations(caps_url: str) -> str:
    ops = []
    for name, href in (("GetCapabilities", caps_url), ("GetTile", caps_url)):
        ops.append(
            f'<ows:Operation name="{name}"><ows:DCP><ows:HTTP>'
            f'<ows:Get xlink:href={quoteattr(href)}><ows:Constraint name="GetEncoding">'
            "<ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues>"
            "</ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>"
        )
    return "<ows:OperationsMetadata>" + "".join(ops) + "</ows:OperationsMetadata>\n"


def _layer(
    coll: Collection,
    dates: list[str],
    name: str,
    tiles_url: str,
    bounds: tuple[float, float, float, float],
    suffix: str,
) -> str:
    spec = coll.layers[name]
    values = "".join(f"<Value>{d}</Value>" for d in dates)
    links = "".join(
        f"<TileMatrixSetLink><TileMatrixSet>{k}</TileMatrixSet></TileMatrixSetLink>"
        for k in tms.TMS
    )
    template = (
        f"{tiles_url}/{name}/{{time}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png"
        + suffix
    )
    return (
        f"<Layer><ows:Title>{escape(coll.title)}: {escape(name)}</ows:Title>"
        f"<ows:Abstract>{escape(spec.description)} ({escape(spec.unit)})</ows:Abstract>"
        '<ows:WGS84BoundingBox crs="urn:ogc:def:crs:OGC:2:84">'
        f"<ows:LowerCorner>{bounds[0]} {bounds[1]}</ows:LowerCorner>"
        f"<ows:UpperCorner>{bounds[2]} {bounds[3]}</ows:UpperCorner></ows:WGS84BoundingBox>"
        f"<ows:Identifier>{escape(name)}</ows:Identifier>"
        '<Style isDefault="true"><ows:Identifier>default</ows:Identifier></Style>'
        "<Format>image/png</Format>"
        "<Dimension><ows:Identifier>time</ows:Identifier><UOM>ISO8601</UOM>"
        f"<Default>{dates[-1]}</Default><Current>true</Current>{values}</Dimension>"
        f"{links}"
        f'<ResourceURL format="image/png" resourceType="tile" template={quoteattr(template)}/>'
        "</Layer>\n"
    )


def _matrix_set(tms_id: str, top: int) -> str:
    matrix_set = tms.TMS[tms_id]
    epsg = matrix_set.crs.to_epsg()
    parts = [
        f"<TileMatrixSet><ows:Identifier>{tms_id}</ows:Identifier>"
        f"<ows:SupportedCRS>urn:ogc:def:crs:EPSG::{epsg}</ows:SupportedCRS>"
    ]
    if tms_id == "WebMercatorQuad":
        parts.append(
            "<WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>"
        )
    for z in range(matrix_set.minzoom, top + 1):
        m = matrix_set.matrix(z)
        x0, y0 = m.pointOfOrigin
        parts.append(
            f"<TileMatrix><ows:Identifier>{z}</ows:Identifier>"
            f"<ScaleDenominator>{m.cellSize / 0.00028!r}</ScaleDenominator>"
            f"<TopLeftCorner>{x0!r} {y0!r}</TopLeftCorner>"
            f"<TileWidth>{m.tileWidth}</TileWidth><TileHeight>{m.tileHeight}</TileHeight>"
            f"<MatrixWidth>{m.matrixWidth}</MatrixWidth><MatrixHeight>{m.matrixHeight}</MatrixHeight>"
            "</TileMatrix>"
        )
    parts.append("</TileMatrixSet>\n")
    return "".join(parts)


def capabilities(
    coll: Collection,
    dates: list[str],
    base: str,
    bounds: tuple[float, float, float, float],
    levels: dict[str, int],
    qc: QCFilter,
) -> str:
    """The capabilities document of ``coll`` over its period keys ``dates`` (oldest first);
    ``levels`` gives each tile matrix set's deepest level."""
    api = f"{base}/api/collections/{coll.name}"
    suffix = "" if qc == DEFAULT_QC else f"?qc={qc}"
    body = [
        _HEAD,
        "<ows:ServiceIdentification>"
        f"<ows:Title>leafcube: {escape(coll.title)}</ows:Title>"
        "<ows:ServiceType>OGC WMTS</ows:ServiceType>"
        "<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion></ows:ServiceIdentification>\n",
        _operations(f"{api}/WMTSCapabilities.xml"),
        "<Contents>\n",
    ]
    body += [_layer(coll, dates, n, f"{api}/tiles", bounds, suffix) for n in coll.layers]
    body += [_matrix_set(k, levels[k]) for k in tms.TMS]
    body.append("</Contents>\n")
    body.append(f"<ServiceMetadataURL xlink:href={quoteattr(api + '/WMTSCapabilities.xml')}/>\n")
    body.append("</Capabilities>\n")
    return "".join(body)
