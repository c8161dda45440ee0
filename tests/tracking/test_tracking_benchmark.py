"""scripts/benchmark_tracking.py: per-frame medians with their stage split, for several targets, as Markdown tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tracking_helpers import TENNIS_BOX_XYWH

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_times_frames_and_stages_for_several_targets_and_tabulates_them(tennis_frames) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_tracking", ROOT / "scripts" / "benchmark_tracking.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    network = benchmark.configured_network(benchmark.NETWORKS["light default (experiment=quick)"])
    config = benchmark.davis_config()
    by_count = {}
    for count in (1, 2):
        boxes = benchmark.target_boxes(count, tuple(TENNIS_BOX_XYWH), tennis_frames[0].shape[:2])
        assert boxes.shape == (count, 4)
        by_count[str(count)] = benchmark.time_tracker(network, config, tennis_frames[:3], boxes)
    for row in by_count.values():
        assert min(row["crop"], row["network"], row["post"]) > 0
        assert row["ms"] >= row["network"]  # the whole frame holds its network call
    gflop = benchmark.search_gflop(network)
    # the paper network: the paper's / release's ~34 GFLOP per search frame (ResNet-50 to conv4, heads, refine)
    paper_gflop = benchmark.search_gflop(benchmark.configured_network(benchmark.PAPER))
    assert abs(paper_gflop - 34.0) < 0.05 * 34.0
    figures = {"release": {"ms": 200.0}, "networks": {"paper x": {"pytorch": by_count}},
               "gflop_per_target": {"paper x": gflop},
               "machine": {"cpu": "test cpu", "threads": 1, "load_average_1min_before": 0.5,
                           "load_average_1min_after": 0.6, "torch": "2", "frames": 2}}
    table = benchmark.report(figures, [1, 2])
    assert "| original release (SiamMask-sharp, PyTorch) | 200.0 | 5.0 | 1.00x |" in table
    assert f"{200.0 / by_count['1']['ms']:.2f}x" in table and "| paper x, pytorch |" in table
    assert "test cpu, 1 threads, 1-minute load 0.5 before / 0.6 after" in table
    assert f"| {by_count['1']['network']:.1f} | {gflop:.1f} | {gflop / by_count['1']['network'] * 1000:.0f} |" in table
