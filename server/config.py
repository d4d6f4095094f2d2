"""Server settings, passed to every worker process through environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_CUBE = "LEAFCUBE_CUBE_DIR"
ENV_MAX_MB = "LEAFCUBE_MAX_REQUEST_MB"
ENV_MAX_READS = "LEAFCUBE_MAX_READS"
ENV_READ_DEADLINE = "LEAFCUBE_READ_DEADLINE_S"

#: Earth Engine's per-request download cap, in MB of float32 output.
DEFAULT_MAX_REQUEST_MB = 48.0
#: (layer, date) pairs one request may read; more is a 413 (the client splits by date).
#: 10,000 reads of a point on a tile seam take about 25 s of a 2-core worker, cold.
DEFAULT_MAX_READS = 10_000
#: Seconds a request's reads may take, queued behind others included; then the reads
#: still queued are cancelled and it answers 503 with ``Retry-After``.
DEFAULT_READ_DEADLINE_S = 60.0


@dataclass(frozen=True)
class Settings:
    """What a worker needs: the cube folder and the bounds of one data request (its pixel
    budget, its (layer, date) pairs, the seconds its reads may take)."""

    cube_dir: Path
    max_request_bytes: int = int(DEFAULT_MAX_REQUEST_MB * 1e6)
    max_reads: int = DEFAULT_MAX_READS
    read_deadline_s: float = DEFAULT_READ_DEADLINE_S

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the ``LEAFCUBE_*`` variables :meth:`to_env` writes."""
        cube = os.environ.get(ENV_CUBE)
        if not cube:
            raise RuntimeError(f"set {ENV_CUBE} to the cube folder to serve")
        mb = float(os.environ.get(ENV_MAX_MB, DEFAULT_MAX_REQUEST_MB))
        reads = int(os.environ.get(ENV_MAX_READS, DEFAULT_MAX_READS))
        deadline = float(os.environ.get(ENV_READ_DEADLINE, DEFAULT_READ_DEADLINE_S))
        return cls(Path(cube).resolve(), int(mb * 1e6), reads, deadline)

    def to_env(self) -> dict[str, str]:
        """The environment variables that make :meth:`from_env` return these settings."""
        return {
            ENV_CUBE: str(self.cube_dir),
            ENV_MAX_MB: str(self.max_request_bytes / 1e6),
            ENV_MAX_READS: str(self.max_reads),
            ENV_READ_DEADLINE: str(self.read_deadline_s),
        }
