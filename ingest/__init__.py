"""Ingest: LEAF GeoTIFF exports in, Cloud-Optimized GeoTIFFs, mosaics, catalogue and views out.

Entry point: :func:`leafcube.ingest.pipeline.ingest` (``leafcube ingest``). See
docs/ingest.md for the command and docs/catalogue.md for what it writes.
"""
