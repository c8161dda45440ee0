"""Test-wide settings and fixtures: one torch thread per test process (the suite runs two processes on two cores);
fp32 wherever a config says "the faster precision", so that no test's outcome depends on how fast this machine
runs bf16 (siammask.precision measures it otherwise; tests/test_precision.py tests the measurement itself); the
real frames beside the checkout."""

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
os.environ["SIAMMASK_PRECISION"] = "fp32"  # inherited by the train.py / eval.py processes the tests start

# The real frames (tennis/: 70 JPEGs, bag.avi) in ../shared/data beside the checkout, where README and the demo
# notebook expect them (git worktrees beside the checkout see them through a ../shared link).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real frames; a test reading them is skipped, saying where they belong, when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real frames in {SHARED_DATA} (../shared/data beside the checkout: tennis/, bag.avi)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tennis_dir(shared_data: Path) -> Path:
    return shared_data / "tennis"


@pytest.fixture(scope="session")
def bag_video(shared_data: Path) -> Path:
    return shared_data / "bag.avi"
