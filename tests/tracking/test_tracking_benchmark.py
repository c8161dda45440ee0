"""scripts/benchmark_tracking.py: the per-stage split adds up and the table reports it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tracking_helpers import TENNIS_BOX_XYWH

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_splits_frame_time_into_stages(tennis_frames) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_tracking", ROOT / "scripts" / "benchmark_tracking.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    network = benchmark.configured_network(benchmark.NETWORKS[benchmark.DEFAULT])
    row = benchmark.time_network(network, tennis_frames[:4], tuple(TENNIS_BOX_XYWH))
    assert row["frames"] == 3
    assert min(row["crop"], row["network"], row["post"]) > 0
    assert row["crop"] + row["network"] + row["post"] == pytest.approx(row["total"], rel=0.5)  # medians per stage
    assert row["fps"] == pytest.approx(1000 / row["total"])
    table = benchmark.markdown({"light": row}, threads=1)
    assert "| light |" in table and "crop+post share" in table
