"""Versions kept apart: v2022 exports (one QC per product) and newer ones (a single QC)."""

from __future__ import annotations

from leafcube.catalogue import load
from tests.ingest.test_variants import VARIANTS, write_variant


def test_v2022_and_newer_exports_get_collections_of_their_own(tmp_path, run_ingest):
    write_variant(VARIANTS["current-monthly"], tmp_path / "new")
    write_variant(VARIANTS["v2022-monthly"], tmp_path / "old")
    cube = tmp_path / "cube"
    out = run_ingest(tmp_path / "new", tmp_path / "old", "--cube", cube)
    assert out.returncode == 0, out.stderr
    cat = load(cube, check=True)
    assert sorted(cat.collections) == ["leaf-s2-20m-monthly", "leaf-s2-20m-monthly-v2022"]
    current = cat.collections["leaf-s2-20m-monthly"]
    assert "QC" in current.layers and "LAI_QC" not in current.layers
    assert not [n for n in current.layers if n.startswith("error")]  # absent, not an error
    assert current.layers["LAI"].qc_layer == "QC"
    v2022 = cat.collections["leaf-s2-20m-monthly-v2022"]
    assert v2022.layers["LAI"].qc_layer == "LAI_QC" and "errorLAI" in v2022.layers

    # forced into one collection, the other version is refused with the reason
    mixed = run_ingest(tmp_path / "old", "--cube", cube, "--collection", "leaf-s2-20m-monthly")
    assert mixed.returncode == 1
    assert (
        "a LEAF v2022 export, but collection leaf-s2-20m-monthly holds exports with a "
        "single QC" in mixed.stderr
    )
