"""docs/quickstart.ipynb runs top to bottom against a real server."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook(server_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAFCUBE_URL", server_url)  # the kernel inherits it
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert "server ['leaf-s2-20m-monthly']" in text
    assert "× 7 dates" in text and "dates without a valid pixel: []" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the map and the time series
    assert not [o for o in outputs if o.output_type == "error"]
