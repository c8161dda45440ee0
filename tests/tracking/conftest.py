"""Fixtures of the tracking tests (helpers live in tracking_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tracking_helpers import TENNIS

from siammask.tracking import read_image_rgb


@pytest.fixture(scope="session")
def tennis_frames() -> list[np.ndarray]:
    return [read_image_rgb(TENNIS / f"{i:05d}.jpg") for i in range(4)]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
