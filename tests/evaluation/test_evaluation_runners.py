"""Protocol runners with fake trackers: exact re-initialisation frames and codes, one-pass boxes, VOS merging."""

import numpy as np
import pytest
from evaluation_fakes import BoxOracle, MaskOracle, indexed_frames

from siammask.evaluation.baselines import StaticBoxTracker
from siammask.evaluation.datasets import BoxSequence, FrameArray, MaskSequence
from siammask.evaluation.region import FAILURE, INIT, SKIP
from siammask.evaluation.runners import merge_masks, run_otb, run_vos, run_vot
from siammask.geometry import polygon_from_box_xyxy


def box_sequence(n: int, hw=(40, 50)) -> BoxSequence:
    frames = FrameArray(indexed_frames(n, hw))
    polygons = [polygon_from_box_xyxy([5 + f % 20, 6, 15 + f % 20, 14]) for f in range(n)]
    return BoxSequence("seq", frames, polygons, frames.image_hw, "test")


def codes(trajectory):
    return [e if isinstance(e, int) else "r" for e in trajectory]


def test_vot_oracle_never_fails_and_reports_the_ground_truth():
    seq = box_sequence(12)
    tracker = BoxOracle(seq.gt_polygons)
    trajectory = run_vot(tracker, seq)
    assert codes(trajectory) == [INIT] + ["r"] * 11
    np.testing.assert_allclose(trajectory[7], seq.gt_polygons[7])
    assert [f for f, _ in tracker.init_calls] == [0]


def test_vot_failure_skips_five_frames_and_reinitialises_on_the_ground_truth():
    seq = box_sequence(20)
    tracker = BoxOracle(seq.gt_polygons, fail_at={7})
    trajectory = run_vot(tracker, seq, skip=5)
    assert codes(trajectory) == [INIT] + ["r"] * 6 + [FAILURE] + [SKIP] * 4 + [INIT] + ["r"] * 7
    assert [f for f, _ in tracker.init_calls] == [0, 12]
    np.testing.assert_allclose(tracker.init_calls[1][1], [[17, 6, 27, 14]])


def test_vot_failure_near_the_end_skips_the_remaining_frames():
    seq = box_sequence(20)
    trajectory = run_vot(BoxOracle(seq.gt_polygons, fail_at={3, 17}), seq, skip=5)
    assert codes(trajectory) == ([INIT, "r", "r", FAILURE, SKIP, SKIP, SKIP, SKIP, INIT] + ["r"] * 8
                                 + [FAILURE, SKIP, SKIP])


def test_otb_one_pass_starts_with_the_given_box_and_never_resets():
    seq = box_sequence(6)
    tracker = BoxOracle(seq.gt_polygons, fail_at={2})
    boxes = run_otb(tracker, seq)
    np.testing.assert_allclose(boxes[0], [5, 6, 10, 8])
    np.testing.assert_allclose(boxes[2], [1000, 1000, 10, 10])  # a lost frame is kept, no reset
    np.testing.assert_allclose(boxes[5], seq.gt_boxes_xywh[5])
    assert len(tracker.init_calls) == 1


def labels_sequence(n: int, starts: dict[int, int]) -> MaskSequence:
    hw = (20, 30)
    labels = []
    for f in range(n):
        lab = np.zeros(hw, np.uint8)
        lab[2:8, 2 + f:8 + f] = 1
        if f >= starts.get(2, 0):
            lab[10:18, 15:25] = 2
        labels.append(lab)
    frames = FrameArray(indexed_frames(n, hw))
    return MaskSequence("vid", frames, labels, sorted(starts), starts, hw, "test")


def test_davis_style_run_starts_all_first_frame_objects_in_one_init():
    seq = labels_sequence(5, {1: 0, 2: 0})
    tracker = MaskOracle(seq.labels)
    outputs = run_vos(tracker, seq)
    assert [call[:2] for call in tracker.init_calls] == [(0, [1, 2])] and not tracker.add_calls
    np.testing.assert_allclose(tracker.init_calls[0][2], [[2, 2, 8, 8], [15, 10, 25, 18]])
    for f in range(5):
        np.testing.assert_array_equal(outputs[f], seq.labels[f])


def test_object_appearing_later_is_added_to_the_same_tracker_from_its_first_mask():
    seq = labels_sequence(5, {1: 0, 2: 3})
    tracker = MaskOracle(seq.labels)
    outputs = run_vos(tracker, seq)
    assert [call[:2] for call in tracker.init_calls] == [(0, [1])]
    assert [call[:2] for call in tracker.add_calls] == [(3, [2])]
    np.testing.assert_allclose(tracker.add_calls[0][2], [[15, 10, 25, 18]])
    assert not (outputs[2] == 2).any() and (outputs[3] == 2).sum() == 80
    np.testing.assert_array_equal(outputs[4], seq.labels[4])


def test_a_video_whose_objects_all_start_late_is_initialised_then():
    seq = labels_sequence(4, {1: 2, 2: 2})
    tracker = MaskOracle(seq.labels)
    outputs = run_vos(tracker, seq)
    assert [call[:2] for call in tracker.init_calls] == [(2, [1, 2])] and not tracker.add_calls
    assert not outputs[0].any() and not outputs[1].any()
    np.testing.assert_array_equal(outputs[3], seq.labels[3])


def test_static_box_baseline_keeps_every_object_at_its_first_box_including_late_ones():
    seq = labels_sequence(5, {1: 0, 2: 3})
    outputs = run_vos(StaticBoxTracker(), seq)
    expected = np.zeros(seq.image_hw, np.uint8)
    expected[2:8, 2:8] = 1  # object 1's frame-0 box; it moves right, the baseline does not
    np.testing.assert_array_equal(outputs[2], expected)
    expected[10:18, 15:25] = 2  # object 2 from its first mask in frame 3 on
    np.testing.assert_array_equal(outputs[4], expected)


def test_overlapping_masks_go_to_the_higher_score():
    seq = labels_sequence(3, {1: 0, 2: 0})
    everything = np.ones(seq.image_hw, np.uint8)
    tracker = MaskOracle(seq.labels, scores={1: 0.9, 2: 0.4}, masks={(1, 2): everything})
    outputs = run_vos(tracker, seq)
    expected = np.full(seq.image_hw, 2, np.uint8)
    expected[seq.labels[1] == 1] = 1  # object 2 claims every pixel but loses object 1's to the higher score
    np.testing.assert_array_equal(outputs[1], expected)


def test_merge_masks_gives_unclaimed_pixels_to_the_background():
    a, b = np.zeros((2, 3), bool), np.zeros((2, 3), bool)
    a[0, :2], b[0, 1:] = True, True
    np.testing.assert_array_equal(merge_masks([a, b], [0.2, 0.7], [4, 9], (2, 3)), [[4, 9, 9], [0, 0, 0]])
    assert not merge_masks([], [], [], (2, 3)).any()


@pytest.mark.parametrize("protocol_runner", [run_vot, run_otb])
def test_box_runners_refuse_a_first_box_outside_the_image(protocol_runner):
    seq = box_sequence(3)
    seq.gt_polygons[0] = polygon_from_box_xyxy([100, 100, 110, 110])
    with pytest.raises(ValueError, match="'seq'.*frame 0.*outside"):
        protocol_runner(BoxOracle(seq.gt_polygons), seq)
