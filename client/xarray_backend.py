"""``xarray.open_dataset(source, engine="leafcube", layers=..., ...)``: a cube through
xarray's usual door, the lazy Dataset of :meth:`leafcube.client.Cube.open_dataset`
(``chunks={}`` gives dask chunks on the COG blocks). Registered as an ``xarray.backends``
entry point, so it needs no import."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from leafcube.catalogue.qc import DEFAULT_QC, QCFilter
from leafcube.catalogue.roi import WGS84

from .cube import Cube
from .plan import LayersLike
from .source import Mode


class LeafcubeBackend(BackendEntrypoint):
    """Opens a leafcube server URL, static cube URL or cube folder as a lazy Dataset."""

    description = "LEAF data cubes from leafcube (server, static web server or folder)"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "layers",
        "roi",
        "start",
        "end",
        "qc",
        "collection",
        "roi_crs",
        "mode",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike[str],
        *,
        drop_variables: str | Iterable[str] | None = None,
        layers: LayersLike | None = None,
        roi: Any = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = DEFAULT_QC,
        collection: str | None = None,
        roi_crs: str = WGS84,
        mode: Mode | None = None,
    ) -> xr.Dataset:
        """The lazy Dataset; closing it closes the ``Cube`` it reads through."""
        cube = Cube(filename_or_obj, mode, progress=False)
        try:
            ds = cube.open_dataset(
                layers,
                roi,
                start=start,
                end=end,
                qc=qc,
                collection=collection,
                roi_crs=roi_crs,
                chunks=False,
            )
        except BaseException:
            cube.close()
            raise
        if drop_variables is not None:
            ds = ds.drop_vars(
                [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
            )
        ds.set_close(cube.close)
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Only when asked by name (``engine="leafcube"``): a URL or folder says too little."""
        return False
