"""The tracker on real (tiny, random) SiamMask networks: batching, both variants, refine, and bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tracking_helpers import TENNIS_BOX_XYWH, tiny_network

from siammask.anchors import AnchorSpec
from siammask.geometry import xywh_to_xyxy
from siammask.tracking import Tracker, TrackerConfig

BOXES_XYXY = xywh_to_xyxy(np.array([TENNIS_BOX_XYWH, [20.0, 20.0, 230.0, 160.0], [560.0, 330.0, 120.0, 90.0]]))


@pytest.fixture(scope="module")
def three_branch() -> torch.nn.Module:
    return tiny_network()


def run(tracker: Tracker, frames: list[np.ndarray], boxes_xyxy: np.ndarray) -> list[list]:
    out = [tracker.init(frames[0], boxes_xyxy)]
    out += [tracker.track(frame) for frame in frames[1:]]
    return out


def test_targets_tracked_together_match_each_tracked_alone(three_branch, tennis_frames) -> None:
    config = TrackerConfig(seg_thr=0.35)
    together = run(Tracker(three_branch, config), tennis_frames, BOXES_XYXY)
    for t, box in enumerate(BOXES_XYXY):
        alone = run(Tracker(three_branch, config), tennis_frames, box)
        for frame_results, frame_alone in zip(together, alone):
            mine, reference = frame_results[t], frame_alone[0]
            np.testing.assert_allclose(mine.box_xyxy, reference.box_xyxy, atol=1e-3)
            np.testing.assert_allclose(mine.rotated_box, reference.rotated_box, atol=1e-3)
            assert mine.score == pytest.approx(reference.score, abs=1e-5)
            if reference.mask is not None:
                assert np.count_nonzero(mine.mask != reference.mask) <= 0.001 * mine.mask.size


def test_several_targets_make_one_network_call_per_frame(three_branch, tennis_frames) -> None:
    calls = []
    handle = three_branch.register_forward_hook(lambda module, args, output: calls.append(args[1].shape[0]))
    try:
        run(Tracker(three_branch, TrackerConfig()), tennis_frames, BOXES_XYXY)
    finally:
        handle.remove()
    assert calls == [3] * (len(tennis_frames) - 1)


def assert_same_results(mine, reference) -> None:
    np.testing.assert_allclose(mine.box_xyxy, reference.box_xyxy, atol=1e-3)
    assert mine.score == pytest.approx(reference.score, abs=1e-5)
    assert np.count_nonzero(mine.mask != reference.mask) <= 0.001 * mine.mask.size


def test_target_added_mid_video_tracks_as_if_started_alone_in_that_frame(three_branch, tennis_frames) -> None:
    config, start = TrackerConfig(seg_thr=0.35), 3
    frames = tennis_frames[:7]
    calls = []
    handle = three_branch.register_forward_hook(lambda module, args, output: calls.append(args[1].shape[0]))
    try:
        tracker = Tracker(three_branch, config)
        tracker.init(frames[0], BOXES_XYXY[0])
        together = [tracker.track(frame) for frame in frames[1:start + 1]]
        added = tracker.add(frames[start], BOXES_XYXY[1])
        together += [tracker.track(frame) for frame in frames[start + 1:]]
    finally:
        handle.remove()
    assert calls == [1] * start + [2] * (len(frames) - start - 1) and tracker.num_targets == 2
    assert len(added) == 1 and added[0].score == 1.0
    np.testing.assert_allclose(added[0].box_xyxy, BOXES_XYXY[1])
    first_alone = run(Tracker(three_branch, config), frames, BOXES_XYXY[0])[1:]
    second_alone = run(Tracker(three_branch, config), frames[start:], BOXES_XYXY[1])[1:]
    for frame_results, reference in zip(together, first_alone):
        assert_same_results(frame_results[0], reference[0])
    for frame_results, reference in zip(together[start:], second_alone):
        assert_same_results(frame_results[1], reference[0])


def test_refused_init_or_add_keeps_the_tracked_targets(three_branch, tennis_frames) -> None:
    config = TrackerConfig(seg_thr=0.35)
    tracker = Tracker(three_branch, config)
    tracker.init(tennis_frames[0], BOXES_XYXY[0])
    with pytest.raises(ValueError, match="outside"):
        tracker.add(tennis_frames[0], [900, 10, 950, 60])
    with pytest.raises(ValueError, match="zero or negative size"):
        tracker.init(tennis_frames[0], [10, 10, 10, 60])
    with pytest.raises(ValueError, match="all frames must have one size"):
        tracker.add(tennis_frames[0][:200], BOXES_XYXY[1])
    assert tracker.num_targets == 1
    reference = run(Tracker(three_branch, config), tennis_frames[:3], BOXES_XYXY[0])
    for frame, expected in zip(tennis_frames[1:3], reference[1:]):
        assert_same_results(tracker.track(frame)[0], expected[0])


@pytest.mark.parametrize("box_head, refine", [(False, False), (True, True)])
def test_two_branch_and_refine_networks_give_image_sized_masks(box_head, refine, tennis_frames) -> None:
    network = tiny_network(box=box_head, refine=refine)
    assert network.mask_output_size == (127 if refine else 63)
    results = run(Tracker(network, TrackerConfig(box_mode="mask_minmax")), tennis_frames[:3], BOXES_XYXY[:2])
    for result in results[-1]:
        assert result.mask.shape == tennis_frames[0].shape[:2] and result.mask.dtype == np.uint8
        assert set(np.unique(result.mask)) <= {0, 1}
        assert np.all(np.isfinite(result.box_xyxy)) and 0.0 <= result.score <= 1.0
        assert result.polygon.shape == (4, 2) and result.rotated_box.shape == (4, 2)


def test_refine_off_tracks_with_the_mask_heads_masks_as_a_network_without_refine(tennis_frames) -> None:
    network = tiny_network(refine=True)
    without = copy.deepcopy(network)
    without.refine = None
    results = run(Tracker(network, TrackerConfig(refine=False)), tennis_frames[:3], BOXES_XYXY[:1])
    expected = run(Tracker(without, TrackerConfig()), tennis_frames[:3], BOXES_XYXY[:1])
    assert results[-1][0].mask.any()
    np.testing.assert_array_equal(results[-1][0].mask, expected[-1][0].mask)
    np.testing.assert_allclose(results[-1][0].rotated_box, expected[-1][0].rotated_box)


def test_init_from_masks_uses_their_bounds_and_returns_them(three_branch, tennis_frames) -> None:
    mask = np.zeros(tennis_frames[0].shape[:2], dtype=np.uint8)
    mask[100:200, 300:360] = 1
    result = Tracker(three_branch, TrackerConfig(box_mode="mask_minmax")).init(tennis_frames[0], masks=mask)[0]
    np.testing.assert_array_equal(result.box_xyxy, [300, 100, 360, 200])
    np.testing.assert_array_equal(result.mask, mask)
    assert result.score == 1.0


def test_disabled_masks_report_the_tracked_box(three_branch, tennis_frames) -> None:
    tracker = Tracker(three_branch, TrackerConfig(mask_enabled=False, box_mode="box_branch"))
    result = run(tracker, tennis_frames[:2], BOXES_XYXY[0])[-1][0]
    x0, y0, x1, y1 = result.box_xyxy
    assert result.mask is None
    np.testing.assert_allclose(result.rotated_box, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def test_disabled_masks_skip_the_mask_branch_and_track_the_same_boxes(three_branch, tennis_frames,
                                                                      monkeypatch) -> None:
    with_masks = run(Tracker(three_branch, TrackerConfig(box_mode="box_branch")), tennis_frames[:4], BOXES_XYXY)
    correlations = []
    correlate = three_branch.mask_head.correlate
    monkeypatch.setattr(three_branch.mask_head, "correlate", lambda *a: correlations.append(1) or correlate(*a))
    tracker = Tracker(three_branch, TrackerConfig(mask_enabled=False, box_mode="box_branch"))
    without = run(tracker, tennis_frames[:4], BOXES_XYXY)
    assert correlations == []  # the mask branch never ran
    for frame_with, frame_without in zip(with_masks, without):
        for a, b in zip(frame_with, frame_without):
            np.testing.assert_array_equal(b.box_xyxy, a.box_xyxy)
            assert b.score == a.score and b.mask is None


@pytest.mark.parametrize("boxes, message", [
    ([900, 10, 950, 60], "outside"),
    ([10, 10, 10, 60], "zero or negative size"),
    ([10, 10, np.nan, 60], "finite"),
])
def test_init_rejects_impossible_boxes_naming_them(three_branch, tennis_frames, boxes, message) -> None:
    with pytest.raises(ValueError, match=message):
        Tracker(three_branch, TrackerConfig()).init(tennis_frames[0], boxes)


def test_bad_frames_and_call_order_raise_clear_errors(three_branch, tennis_frames) -> None:
    tracker = Tracker(three_branch, TrackerConfig())
    with pytest.raises(RuntimeError, match="before Tracker.init"):
        tracker.track(tennis_frames[0])
    with pytest.raises(ValueError, match="uint8 RGB"):
        tracker.init(tennis_frames[0].astype(np.float32), BOXES_XYXY[0])
    with pytest.raises(ValueError, match="needs boxes_xyxy or masks"):
        tracker.init(tennis_frames[0])
    with pytest.raises(ValueError, match="target 0 is empty"):
        tracker.init(tennis_frames[0], masks=np.zeros(tennis_frames[0].shape[:2], np.uint8))
    tracker.init(tennis_frames[0], BOXES_XYXY[0])
    with pytest.raises(ValueError, match="all frames must have one size"):
        tracker.track(tennis_frames[1][:200])


def test_network_and_config_mismatches_are_rejected(three_branch) -> None:
    with pytest.raises(ValueError, match=r"10 score / 20 box channels, the box decoder AnchorSpec\(.*\) needs 6 / 12"):
        Tracker(three_branch, TrackerConfig(), decoder=AnchorSpec(ratios=(0.5, 1.0, 2.0)))
    with pytest.raises(ValueError, match="two-branch"):
        Tracker(tiny_network(box=False), TrackerConfig(mask_enabled=False, box_mode="box_branch"))
