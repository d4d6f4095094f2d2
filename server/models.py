"""Pydantic models of the JSON answers (they document the API in OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from leafcube.catalogue import LayerSpec
from leafcube.catalogue.qc import QCFilter


class Link(BaseModel):
    rel: str
    href: str
    type: str | None = None
    title: str | None = None


class DateOut(BaseModel):
    """One period: its first and last day (inclusive) and the layers it holds."""

    date: str = Field(description="the period's key: its first day, YYYY-MM-DD")
    start: str
    end: str
    layers: list[str]
    tiles: list[str]


class Extent(BaseModel):
    native: tuple[float, float, float, float] | None
    wgs84: tuple[float, float, float, float] | None


class CollectionSummary(BaseModel):
    """A collection in the list: its grid, layers and date range."""

    id: str
    title: str
    description: str
    crs: str
    resolution: float
    extent: Extent
    layers: list[str]
    date_count: int
    first_date: str | None
    last_date: str | None
    links: list[Link]


class CollectionDetail(CollectionSummary):
    """A collection in full: every layer's encoding and every date."""

    origin: tuple[float, float]
    layer_specs: list[LayerSpec] = Field(
        description="each layer's encoding: physical value = DN * scale + offset"
    )
    dates: list[DateOut]


class CollectionList(BaseModel):
    collections: list[CollectionSummary]
    links: list[Link]


class Stats(BaseModel):
    """Per date (same order as ``dates``): statistics of the valid pixels in the ROI."""

    mean: list[float | None]
    std: list[float | None]
    min: list[float | None]
    max: list[float | None]
    valid: list[int] = Field(description="pixels with data (after the QC filter) in the ROI")
    total: list[int] = Field(description="pixels of the collection grid in the ROI")


class TimeSeries(BaseModel):
    """Statistics per date and layer, in physical units."""

    collection: str
    qc: QCFilter
    crs: str
    pixels: int = Field(description="pixels of the ROI on the collection grid")
    dates: list[str]
    layers: dict[str, Stats]


class TileJSON(BaseModel):
    tilejson: str = "3.0.0"
    name: str
    description: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    # lists of fixed length rather than tuples: OpenAPI 3.1's ``prefixItems`` trips some
    # OpenAPI tools (schemathesis); TileJSON readers see the same JSON arrays
    bounds: list[float] = Field(min_length=4, max_length=4, description="west, south, east, north")
    center: list[float] = Field(min_length=3, max_length=3, description="lon, lat, zoom")
    attribution: str = ""


class HeapOut(BaseModel):
    """The C heap over every malloc arena, in MB (glibc's ``mallinfo2``)."""

    in_use_mb: float
    free_mb: float = Field(description="free but kept by the allocator (fragmentation)")
    mmapped_mb: float


class MemoryReport(BaseModel):
    """What one worker holds in memory now, and in which of its bounded caches."""

    rss_mb: float = Field(description="resident memory of the worker process")
    heap: HeapOut | None = Field(description="null when the worker does not run on glibc")
    open_datasets: int
    cached_windows: int
    part_bytes: int = Field(description="catalogue-part JSON bytes held in the part cache")
    trims: int = Field(description="times the worker handed its free heap pages back")
    trim_last_ms: float
    trim_max_ms: float
