"""What the SL2P forward pass gives for a block: float estimates, uncertainties, domain flag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outputs:
    """Float estimates and uncertainties (product -> array) plus the domain flag."""

    estimates: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    out_of_domain: np.ndarray
