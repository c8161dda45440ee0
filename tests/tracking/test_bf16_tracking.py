"""bf16 tracking (backend=pytorch, precision=bf16 | auto): the network in bf16, everything the tracker sees in fp32,
and the rules that choose the precision."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tracking_helpers import TENNIS_BOX_XYWH, tiny_network

from siammask.geometry import xywh_to_xyxy
from siammask.tracking import Tracker, TrackerConfig
from siammask.tracking.backends import network_precision, pytorch_network
from siammask.tracking.bf16_network import Bf16Network


@pytest.fixture(scope="module")
def networks() -> tuple[torch.nn.Module, Bf16Network]:
    fp32 = tiny_network(refine=True)
    return fp32, Bf16Network(pytorch_network(copy.deepcopy(fp32), TrackerConfig(), fold_batchnorm=True))


def test_the_network_runs_in_bf16_and_answers_in_fp32(networks) -> None:
    fp32, bf16 = networks
    assert {p.dtype for p in bf16.network.parameters()} == {torch.bfloat16}
    generator = torch.Generator().manual_seed(0)
    template = torch.rand(2, 3, 127, 127, generator=generator) * 255
    search = torch.rand(2, 3, 255, 255, generator=generator) * 255
    with torch.no_grad():
        reference = fp32(fp32.embed_template(template), search)
        output = bf16(bf16.embed_template(template), search)
        index, rows, cols = torch.tensor([0, 1]), torch.tensor([3, 12]), torch.tensor([7, 20])
        masks = bf16.masks_at(output, index, rows, cols)
        reference_masks = fp32.masks_at(reference, index, rows, cols)
    for mine, theirs in [(output.score, reference.score), (output.box, reference.box), (masks, reference_masks)]:
        assert mine.dtype == torch.float32 and mine.shape == theirs.shape
        # bf16 keeps ~3 significant digits of each layer's inputs and outputs: a few percent of the output's range
        assert (mine - theirs).abs().max() <= 0.05 * theirs.abs().max()
    assert all(skip.dtype == torch.float32 for skip in output.skips)


def test_a_bf16_tracker_tracks_like_the_fp32_one_on_the_first_frame(networks, tennis_frames) -> None:
    fp32, bf16 = networks
    box_xyxy = xywh_to_xyxy(np.array([TENNIS_BOX_XYWH]))
    results = []
    for network in (fp32, bf16):
        tracker = Tracker(network, TrackerConfig())
        tracker.init(tennis_frames[0], box_xyxy)
        results.append(tracker.track(tennis_frames[1])[0])
    reference, mine = results
    assert mine.mask.shape == reference.mask.shape and mine.mask.dtype == reference.mask.dtype
    assert np.isfinite(mine.box_xyxy).all() and 0.0 <= mine.score <= 1.0


@pytest.mark.parametrize("precision, backend, geometry, forced, expected", [
    ("fp32", "pytorch", "exact", "bf16", "fp32"),
    ("bf16", "pytorch", "release", "fp32", "bf16"),      # asked for explicitly: bf16 even for release geometry
    ("auto", "pytorch", "exact", "bf16", "bf16"),        # measured (here: forced) faster
    ("auto", "pytorch", "exact", "fp32", "fp32"),
    ("auto", "pytorch", "release", "bf16", "fp32"),      # release geometry stays fp32-exact
    ("auto", "onnxruntime", "exact", "bf16", "fp32"),    # ONNX Runtime graphs are fp32 / int8
])
def test_the_precision_rules(monkeypatch, precision, backend, geometry, forced, expected) -> None:
    monkeypatch.setenv("SIAMMASK_PRECISION", forced)
    assert network_precision(precision, backend, TrackerConfig(geometry=geometry)) == expected


def test_bf16_with_onnx_runtime_and_unknown_precisions_are_refused() -> None:
    with pytest.raises(ValueError, match="use backend=pytorch precision=bf16"):
        network_precision("bf16", "onnxruntime", TrackerConfig())
    with pytest.raises(ValueError, match="precision must be one of"):
        network_precision("fp16", "pytorch", TrackerConfig())
