"""Server settings, passed to every worker process through environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_CUBE = "LEAFCUBE_CUBE_DIR"
ENV_MAX_MB = "LEAFCUBE_MAX_REQUEST_MB"

#: Earth Engine's per-request download cap, in MB of float32 output.
DEFAULT_MAX_REQUEST_MB = 48.0


@dataclass(frozen=True)
class Settings:
    """What a worker needs: the cube folder and the pixel budget of one request."""

    cube_dir: Path
    max_request_bytes: int = int(DEFAULT_MAX_REQUEST_MB * 1e6)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from ``LEAFCUBE_CUBE_DIR`` and ``LEAFCUBE_MAX_REQUEST_MB``."""
        cube = os.environ.get(ENV_CUBE)
        if not cube:
            raise RuntimeError(f"set {ENV_CUBE} to the cube folder to serve")
        mb = float(os.environ.get(ENV_MAX_MB, DEFAULT_MAX_REQUEST_MB))
        return cls(Path(cube).resolve(), int(mb * 1e6))

    def to_env(self) -> dict[str, str]:
        """The environment variables that make :meth:`from_env` return these settings."""
        return {ENV_CUBE: str(self.cube_dir), ENV_MAX_MB: str(self.max_request_bytes / 1e6)}
