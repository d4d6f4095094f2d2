"""The sensors leafcube trains nets for: bands, spectral intervals, view angles, QC codes.

Band intervals are the bands' approximate full width at half maximum; training
resamples PROSAIL spectra by averaging over them (the documented band-average
approximation of the spectral response, docs/retrieval.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import ANGLES


@dataclass(frozen=True)
class Sensor:
    """A sensor: its LEAF input bands, their intervals (nm), max view zenith, QC code."""

    name: str
    code: int
    bands: tuple[str, ...]
    intervals: tuple[tuple[int, int], ...]
    max_vza: float
    description: str

    @property
    def inputs(self) -> tuple[str, ...]:
        """LEAF's input order: the three angle cosines, then the bands."""
        return ANGLES + self.bands


_OLI_BANDS = ("B3", "B4", "B5", "B6", "B7")
_OLI_INTERVALS = ((533, 590), (636, 673), (851, 879), (1566, 1651), (2107, 2294))

SENSORS: dict[str, Sensor] = {
    "S2": Sensor(
        "S2",
        21,
        ("B3", "B4", "B5", "B6", "B7", "B8A", "B11", "B12"),
        (
            (543, 578),
            (650, 680),
            (698, 713),
            (733, 748),
            (773, 793),
            (855, 875),
            (1565, 1655),
            (2100, 2280),
        ),
        10.0,
        "Sentinel-2 MSI, L2A surface reflectance (DN x 1e-4)",
    ),
    "L8": Sensor(
        "L8",
        8,
        _OLI_BANDS,
        _OLI_INTERVALS,
        7.5,
        "Landsat 8 OLI, Collection 2 L2 surface reflectance (DN x 2.75e-5 - 0.2)",
    ),
    "L9": Sensor(
        "L9",
        9,
        _OLI_BANDS,
        _OLI_INTERVALS,
        7.5,
        "Landsat 9 OLI-2, Collection 2 L2 surface reflectance (DN x 2.75e-5 - 0.2)",
    ),
}


def sensor(name: str) -> Sensor:
    """The sensor called ``name`` (S2, L8, L9), or a one-line error."""
    try:
        return SENSORS[name.upper()]
    except KeyError:
        raise ValueError(f"unknown sensor {name!r}; expected one of {', '.join(SENSORS)}") from None
