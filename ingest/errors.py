"""The one error ingest reports per bad source."""

from __future__ import annotations


class IngestError(ValueError):
    """A source that cannot become a COG; the message names the file and the reason."""


class DiskFull(ValueError):
    """The cube's disk is full: the run stops (every COG after would fail the same way),
    keeping what it wrote."""
