"""Tile palettes (server/colormaps.py) for every LEAF layer kind, no server.

The expectation is computed here from what the catalogue and the docs say, not from the
module: a layer's physical value ``dn * scale + offset`` is stretched over its
``display_range`` onto rio-tiler's 256-colour table of its ``colormap`` (viridis for a
name rio-tiler does not know, such as QC's ``qc``); the land-cover classes take the
NALCMS legend; palette index 0 is transparent and reserved for masked pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from rio_tiler.colormap import cmap

from leafcube.catalogue.products import leaf_layers
from leafcube.server.colormaps import to_index
from tests.server.legend import NALCMS_LEGEND

V2022 = leaf_layers(per_product_qc=True)
CURRENT = leaf_layers(per_product_qc=False)
RAMPED = sorted(
    {(name, per) for per, layers in ((True, V2022), (False, CURRENT)) for name in layers}
    - {("Partition", True), ("Partition", False)}
)


def _spec(name: str, per_product_qc: bool):
    return (V2022 if per_product_qc else CURRENT)[name]


def _table(colormap: str) -> np.ndarray:
    """rio-tiler's 256 x RGBA table of ``colormap`` (viridis when rio-tiler lacks it)."""
    name = colormap if colormap in cmap.list() else "viridis"
    got = cmap.get(name)
    return np.array([got[i] for i in range(256)], dtype=np.uint8)


def _every_dn(dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1).astype(dtype)


def _position(spec, dn: np.ndarray) -> np.ndarray:
    """Where a DN falls on the stretch, 0 at the display range's low end, 1 at its top."""
    value = dn.astype(np.float64) * spec.scale + spec.offset
    lo, hi = spec.display_range
    return np.clip((value - lo) / (hi - lo), 0.0, 1.0)


def _matches_ramp(colours: np.ndarray, t: np.ndarray, table: np.ndarray) -> np.ndarray:
    """True where a colour is the table's entry at ``255 t``, to within one entry.

    The palette has 255 opaque entries to spread a 256-entry table over, so the entry a
    value lands on may be the table entry next to the exact one: never further.
    """
    exact = t * 255
    ok = np.zeros(len(t), dtype=bool)
    for step in (-1, 0, 1, 2):
        j = np.floor(exact).astype(np.intp) + step
        near = (j >= 0) & (j <= 255) & (np.abs(j - exact) <= 1.0 + 1e-9)
        same = (colours == table[np.clip(j, 0, 255), :3]).all(axis=1)
        ok |= near & same
    return ok


def test_every_layer_kind_is_covered():
    kinds = {spec.kind for layers in (V2022, CURRENT) for spec in layers.values()}
    assert kinds == {"continuous", "bitmask", "date", "categorical"}
    assert {_spec(n, p).kind for n, p in RAMPED} == {"continuous", "bitmask", "date"}


@pytest.mark.parametrize(("name", "per_product_qc"), RAMPED)
def test_every_dn_gets_its_ramp_colour(name, per_product_qc):
    """Each DN of the layer's type: an opaque index in 1..255 at its place on the stretch,
    whose colour is the colormap's colour at that place."""
    spec = _spec(name, per_product_qc)
    dn = _every_dn(spec.dtype)
    index, palette = to_index(spec, dn)
    assert index.shape == dn.shape and index.dtype == np.uint8
    assert palette.shape == (256, 4) and palette.dtype == np.uint8
    t = _position(spec, dn)
    assert index.min() >= 1, "only masked pixels may take the transparent index 0"
    # 255 steps over the stretch: the index is the nearest one (ties either way)
    assert np.abs(index.astype(np.float64) - (1 + 254 * t)).max() <= 0.5 + 1e-9
    assert (palette[index, 3] == 255).all()
    colours = palette[index, :3]
    ok = _matches_ramp(colours, t, _table(spec.colormap))
    assert ok.all(), dn[~ok][:10]


@pytest.mark.parametrize(("name", "per_product_qc"), RAMPED)
def test_ends_of_the_scale(name, per_product_qc):
    """At or below the display range: the colormap's first colour; at or above: its last."""
    spec = _spec(name, per_product_qc)
    table = _table(spec.colormap)
    dn = _every_dn(spec.dtype)
    value = dn.astype(np.float64) * spec.scale + spec.offset
    lo, hi = spec.display_range
    low, high = dn[value <= lo], dn[value >= hi]
    assert len(low) and len(high), "the stretch must reach both ends within the dtype"
    index, palette = to_index(spec, np.concatenate([low, high]))
    colours = palette[index, :3]
    assert (index[: len(low)] == 1).all() and (index[len(low) :] == 255).all()
    assert (colours[: len(low)] == table[0, :3]).all()
    assert (colours[len(low) :] == table[255, :3]).all()


@pytest.mark.parametrize(
    ("name", "top_dn"),
    [("LAI", 160), ("fCOVER", 200), ("fAPAR", 200), ("Albedo", 100), ("errorLAI", 40)],
)
def test_product_stretches_end_where_the_catalogue_says(name, top_dn):
    """LAI 8 m2/m2, fCOVER/fAPAR 1, Albedo 0.5, errorLAI 2 are the tops of their ramps."""
    spec = V2022[name]
    index, _ = to_index(spec, np.array([top_dn - 1, top_dn, top_dn + 1, 255], np.uint8))
    assert index.tolist()[1:] == [255, 255, 255]
    assert index[0] < 255


@pytest.mark.parametrize(("name", "per_product_qc"), RAMPED)
def test_colour_never_goes_down_the_ramp(name, per_product_qc):
    spec = _spec(name, per_product_qc)
    index, _ = to_index(spec, _every_dn(spec.dtype))
    assert (np.diff(index.astype(np.int64)) >= 0).all()
    assert index[0] == 1 and index[-1] == 255


@pytest.mark.parametrize(("name", "per_product_qc"), RAMPED)
def test_lookup_table_and_direct_path_agree(name, per_product_qc):
    """DNs of the layer's own dtype go through a lookup table; any other integer or float
    array is stretched directly. Both give the same indices and the same palette."""
    spec = _spec(name, per_product_qc)
    dn = _every_dn(spec.dtype)
    lut, palette = to_index(spec, dn)
    for other in (np.int32, np.int64, np.float32, np.float64):
        direct, palette2 = to_index(spec, dn.astype(other))
        np.testing.assert_array_equal(direct, lut, err_msg=str(other))
        np.testing.assert_array_equal(palette2, palette)


def test_index_zero_is_transparent_for_every_layer():
    for layers in (V2022, CURRENT):
        for spec in layers.values():
            _, palette = to_index(spec, np.zeros(1, dtype=spec.dtype))
            assert palette[0, 3] == 0, spec.name


def test_two_dimensional_tiles_keep_their_shape():
    spec = V2022["LAI"]
    dn = np.arange(256 * 256, dtype=np.int64).reshape(256, 256) % 256
    index, _ = to_index(spec, dn.astype(np.uint8))
    assert index.shape == (256, 256)
    np.testing.assert_array_equal(index[0], to_index(spec, np.arange(256, dtype=np.uint8))[0])


@pytest.mark.parametrize("per_product_qc", [True, False])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "float64"])
def test_partition_takes_the_nalcms_legend(per_product_qc, dtype):
    """Classes 1-19: their legend colour, opaque, one palette entry each; DN 0 (no class,
    the layer's nodata) and anything outside 1-19: transparent."""
    spec = _spec("Partition", per_product_qc)
    assert (spec.kind, spec.nodata) == ("categorical", 0)
    dn = np.arange(0, 256).astype(dtype)
    index, palette = to_index(spec, dn)
    classes = np.arange(1, 20)
    got = palette[index[classes]]
    want = np.array([(*bytes.fromhex(c), 255) for c in NALCMS_LEGEND], dtype=np.uint8)
    np.testing.assert_array_equal(got, want)
    assert len(set(index[classes].tolist())) == 19
    assert 0 not in index[classes]
    outside = np.r_[0, 20:256]
    assert (palette[index[outside], 3] == 0).all()


def test_partition_negative_and_huge_classes_are_transparent():
    spec = V2022["Partition"]
    dn = np.array([-1, -19, 2**31 - 1, 1_000_000], dtype=np.int64)
    index, palette = to_index(spec, dn)
    assert (palette[index, 3] == 0).all()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int16"])
def test_categorical_classes_in_any_small_integer_dtype(dtype):
    """A land-cover layer stored as a signed type (the catalogue allows any dtype) takes
    the same legend through its lookup table: classes 1-19 coloured, 0 and -1 transparent."""
    spec = dataclasses.replace(V2022["Partition"], dtype=dtype)
    dn = np.arange(-1 if dtype.startswith("int") else 0, 21).astype(dtype)
    index, palette = to_index(spec, dn)
    want = {c: (*bytes.fromhex(h), 255) for c, h in enumerate(NALCMS_LEGEND, start=1)}
    for value, i in zip(dn.tolist(), index.tolist(), strict=True):
        if value in want:
            assert tuple(palette[i]) == want[value], (dtype, value)
        else:
            assert palette[i, 3] == 0, (dtype, value)
