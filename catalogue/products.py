"""The LEAF product definitions: layer encodings, units and QC bit meanings.

These are the facts every part of leafcube agrees on (see docs/catalogue.md);
ingest writes them into the catalogue, readers take them from there.
"""

from __future__ import annotations

from .models import LayerSpec, QCBit

#: The DN of "no data" in every masked layer of the cube (stored int16, so each of LEAF's
#: own DNs, 0-255 and days 0-365, is kept as it is). Every client sees it: a GDAL nodata
#: value in the COGs, the mosaics and STAC, and below GomezEngine's -9990 NaN threshold.
NODATA = -9999
#: How the cube stores masked layers (LEAF exports them as uint8, Date as uint16).
STORED_DTYPE = "int16"
#: The types LEAF's own exports hold, by layer kind (the cube may store them wider).
EXPORT_DTYPES = {
    "continuous": "uint8",
    "bitmask": "uint8",
    "date": "uint16",
    "categorical": "uint8",
}

#: LEAF's four biophysical products, in the GomezEngine view's fixed order.
PRODUCTS: tuple[str, ...] = ("LAI", "fCOVER", "fAPAR", "Albedo")

#: Sensor codes stored in QC bits 3-7 (``qc >> 3``).
QC_SENSOR_CODES: dict[int, str] = {
    5: "Landsat 5",
    7: "Landsat 7",
    8: "Landsat 8",
    9: "Landsat 9",
    21: "Sentinel-2",
}

#: QC bits of 2023 and later exports (a clear, valid estimate is QC 0).
QC_FLAG_BITS: tuple[QCBit, ...] = (
    QCBit(0, 1, "input_out_of_domain", "input reflectances outside the algorithm's domain"),
    QCBit(1, 1, "output_out_of_range", "estimate outside its valid range before clamping"),
    QCBit(2, 1, "invalid", "invalid pixel: cloud, shadow, snow, ice, water or saturation"),
)
#: QC bits of v2022 exports: the flags and the sensor code (0 = never observed).
QC_BITS: tuple[QCBit, ...] = (
    *QC_FLAG_BITS,
    QCBit(
        3,
        5,
        "sensor",
        "sensor code: " + ", ".join(f"{k} = {v}" for k, v in QC_SENSOR_CODES.items()),
    ),
)

_PRODUCT_INFO: dict[str, tuple[float, tuple[float, float], str, str, str]] = {
    # name: (scale, valid range, unit, colormap, description)
    "LAI": (1 / 20, (0.0, 15.0), "m2 m-2", "ylgn", "leaf area index"),
    "fCOVER": (1 / 200, (0.0, 1.0), "1", "ylgn", "fraction of vegetation cover"),
    "fAPAR": (
        1 / 200,
        (0.0, 1.0),
        "1",
        "ylgn",
        "fraction of absorbed photosynthetically active radiation (black-sky, 10:00 solar time)",
    ),
    "Albedo": (1 / 200, (0.0, 1.0), "1", "greys_r", "black-sky shortwave albedo"),
}

_DISPLAY_MAX = {"LAI": 8.0, "fCOVER": 1.0, "fAPAR": 1.0, "Albedo": 0.5}


def qc_layer_name(product: str, per_product_qc: bool) -> str:
    """Name of the QC layer that masks ``product`` (``LAI_QC`` or the single ``QC``)."""
    return f"{product}_QC" if per_product_qc else "QC"


def leaf_layers(per_product_qc: bool = True) -> dict[str, LayerSpec]:
    """Every layer a LEAF collection may hold, in the fixed order of the GomezEngine view.

    ``per_product_qc`` follows the v2022 exports (one QC per product, with sensor
    bits); 2023 and later exports carry a single ``QC`` of flags only. A collection
    lists only the layers it has files for (newer exports have no error layers).
    Every layer but Partition is masked by its QC's no-data rule (catalogue.qc) and
    stored as int16 with :data:`NODATA` where masked; Partition keeps uint8, 0 = no class.
    """
    layers: dict[str, LayerSpec] = {}
    for name in PRODUCTS:
        scale, valid, unit, cmap, text = _PRODUCT_INFO[name]
        qc = qc_layer_name(name, per_product_qc)
        display = (0.0, _DISPLAY_MAX[name])
        layers[name] = LayerSpec(
            name=name,
            dtype=STORED_DTYPE,
            scale=scale,
            offset=0.0,
            unit=unit,
            valid_range=valid,
            description=text,
            colormap=cmap,
            display_range=display,
            kind="continuous",
            mask="qc",
            qc_layer=qc,
            nodata=NODATA,
        )
    for name in PRODUCTS:
        scale, valid, unit, _, text = _PRODUCT_INFO[name]
        layers[f"error{name}"] = LayerSpec(
            name=f"error{name}",
            dtype=STORED_DTYPE,
            scale=scale,
            offset=0.0,
            unit=unit,
            valid_range=valid,
            description=f"uncertainty (expected RMSE) of the {text}",
            colormap="magma",
            display_range=(0.0, _DISPLAY_MAX[name] / 4),
            kind="continuous",
            mask="qc",
            qc_layer=qc_layer_name(name, per_product_qc),
            nodata=NODATA,
        )
    qc_names = [qc_layer_name(p, True) for p in PRODUCTS] if per_product_qc else ["QC"]
    for name in qc_names:
        of = name.removesuffix("_QC") if per_product_qc else "all products"
        layers[name] = LayerSpec(
            name=name,
            dtype=STORED_DTYPE,
            scale=1.0,
            offset=0.0,
            unit="1",
            valid_range=(0, 255),
            description=f"quality bitmask ({of})",
            colormap="qc",
            display_range=(0, 255),
            kind="bitmask",
            mask="qc",
            qc_layer=name,
            nodata=NODATA,
            bits=QC_BITS if per_product_qc else QC_FLAG_BITS,
        )
    layers["Date"] = LayerSpec(
        name="Date",
        dtype=STORED_DTYPE,
        scale=1.0,
        offset=0.0,
        unit="day of year (0 = 1 January, UTC)",
        valid_range=(0, 365),
        description="acquisition date of the observation chosen for the pixel",
        colormap="viridis",
        display_range=(0, 365),
        kind="date",
        mask="qc",
        qc_layer=qc_layer_name("LAI", per_product_qc),
        nodata=NODATA,
    )
    layers["Partition"] = LayerSpec(
        name="Partition",
        dtype="uint8",
        scale=1.0,
        offset=0.0,
        unit="NALCMS class",
        valid_range=(1, 19),
        description="land-cover class used to pick the network (NALCMS 1-19)",
        colormap="nalcms",
        display_range=(0, 19),
        kind="categorical",
        mask="nodata",
        nodata=0,
    )
    return layers
