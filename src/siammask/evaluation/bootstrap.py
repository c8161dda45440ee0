"""Percentile-bootstrap intervals that resample whole sequences, shared by the DAVIS J / F means and the VOT EAO.

A benchmark of a few dozen sequences moves its figures by several hundredths from one sample of sequences to the
next; each interval here draws the same resamples (seeded) so the intervals of one evaluation are comparable.
"""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 2000


def resample_counts(sequences: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """(resamples, sequences): how often each sequence is drawn, with replacement, in each resample."""
    return np.random.default_rng(seed).multinomial(sequences, np.full(sequences, 1 / sequences), resamples)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` of the resampled ``values`` (NaNs left out)."""
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)
