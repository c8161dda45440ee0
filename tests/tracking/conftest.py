"""Fixtures of the tracking tests (helpers live in tracking_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from siammask.tracking import read_image_rgb


@pytest.fixture(scope="session")
def tennis_frames(tennis_dir: Path) -> list[np.ndarray]:
    return [read_image_rgb(tennis_dir / f"{i:05d}.jpg") for i in range(4)]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
