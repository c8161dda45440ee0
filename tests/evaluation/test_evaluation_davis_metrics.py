"""DAVIS J / F / statistics on masks small enough to count pixels by hand."""

import cv2
import numpy as np
import pytest

from siammask.evaluation.davis import (
    bootstrap_interval,
    boundary_map,
    boundary_measure,
    boundary_tolerance,
    region_similarity,
    score_davis_sequence,
    statistics,
    summarise_davis,
)


def square(hw, top, left, size):
    m = np.zeros(hw, dtype=np.uint8)
    m[top:top + size, left:left + size] = 1
    return m


def dot(hw, row, col):
    m = np.zeros(hw, dtype=np.uint8)
    m[row, col] = 1
    return m


def test_j_counts_pixels_and_two_empty_masks_agree_fully():
    gt, shifted = square((8, 8), 2, 2, 4), square((8, 8), 2, 3, 4)  # 12 shared of 20
    empty = np.zeros((8, 8), np.uint8)
    np.testing.assert_allclose(region_similarity(np.stack([gt, gt, empty, empty]),
                                                 np.stack([shifted, gt, empty, gt])), [0.6, 1.0, 1.0, 0.0])


def test_boundary_map_sits_half_a_pixel_towards_the_origin():
    expected = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(dot((3, 3), 1, 1)), expected)
    # last row / column compare with one neighbour only; the bottom-right pixel is never a boundary
    corner = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(dot((3, 3), 2, 2)), corner)


def test_f_on_single_pixel_objects_with_a_one_pixel_tolerance():
    hw, gt = (12, 12), dot((12, 12), 5, 5)  # boundary: (4,4) (4,5) (5,4) (5,5)
    assert boundary_measure(gt, dot(hw, 5, 6), bound_th=1) == pytest.approx(1.0)  # every pixel within 1
    assert boundary_measure(gt, dot(hw, 5, 7), bound_th=1) == pytest.approx(0.5)  # half of each side within 1
    assert boundary_measure(gt, dot(hw, 5, 8), bound_th=1) == pytest.approx(0.0)


def test_f_of_empty_masks():
    empty, gt = np.zeros((10, 10), np.uint8), square((10, 10), 2, 2, 4)
    np.testing.assert_allclose(boundary_measure(np.stack([empty, gt, empty]), np.stack([empty, empty, gt])),
                               [1.0, 0.0, 0.0])


def test_tolerance_is_a_fraction_of_the_diagonal_rounded_up():
    assert boundary_tolerance((480, 854), 0.008) == 8  # ceil(0.008 * 979.7)
    assert boundary_tolerance((480, 854), 3) == 3


def test_f_matches_a_distance_transform_computation_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt = (cv2.GaussianBlur(rng.random((60, 80)), (0, 0), 4) > 0.5).astype(np.uint8)
        pred = (cv2.GaussianBlur(rng.random((60, 80)), (0, 0), 4) > 0.5).astype(np.uint8)
        radius = boundary_tolerance(gt.shape, 0.03)
        gt_b, pred_b = boundary_map(gt), boundary_map(pred)

        def matched(a, b, radius=radius):  # pixels of boundary a within Euclidean distance `radius` of boundary b
            dist = cv2.distanceTransform((~b).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            return np.sum(a & (dist <= radius + 1e-6))

        precision, recall = matched(pred_b, gt_b) / pred_b.sum(), matched(gt_b, pred_b) / gt_b.sum()
        expected = 2 * precision * recall / (precision + recall)
        assert boundary_measure(gt, pred, 0.03) == pytest.approx(expected)


def test_statistics_decay_compares_first_and_last_quarters():
    stats = statistics([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5])
    # quarters from 4 quantiles sharing their end frames: frames 0-2 and 5-7
    assert stats == pytest.approx({"mean": 0.75, "recall": 0.5, "decay": 0.5})
    stats = statistics([0.2, 0.2, 0.9, 0.9, 0.9])  # quarters 0-1 and 3-4
    assert stats["decay"] == pytest.approx(0.2 - 0.9) and stats["recall"] == pytest.approx(0.6)


def test_sequence_score_skips_first_and_last_frame_and_counts_absent_objects_as_agreement():
    hw, n = (16, 16), 6
    gt = np.zeros((n, *hw), np.uint8)
    gt[:, 2:6, 2:6] = 1
    gt[:3, 10:14, 10:14] = 2  # object 2 leaves after frame 2
    pred = gt.copy()
    pred[0] = 0  # first frame wrong: excluded
    pred[-1] = 0  # last frame wrong: excluded
    pred[2][gt[2] == 1] = 0
    pred[2, 2:4, 2:6] = 1  # object 1 half right in frame 2: J = 8 / 16
    scores = score_davis_sequence(gt, pred, [1, 2], bound_th=1)
    assert scores[1]["J_mean"] == pytest.approx((1 + 0.5 + 1 + 1) / 4)
    assert scores[2]["J_mean"] == pytest.approx(1.0) and scores[2]["F_mean"] == pytest.approx(1.0)
    summary = summarise_davis(list(scores.values()))
    assert summary["J_mean"] == pytest.approx((0.875 + 1.0) / 2)
    assert summary["JF_mean"] == pytest.approx((summary["J_mean"] + summary["F_mean"]) / 2)


def test_bootstrap_interval_resamples_whole_sequences():
    # Two one-object sequences, J 0.2 and 0.8: a resample holds {both 0.2, one each, both 0.8} with probability
    # 1/4, 1/2, 1/4, so its mean is 0.2, 0.5 or 0.8 and the central 95 % runs from 0.2 to 0.8.
    assert bootstrap_interval([[0.2], [0.8]]) == pytest.approx((0.2, 0.8))
    # A sequence is drawn with all its objects: the mean weighs objects, the draw sequences. One sequence alone
    # (or identical ones) leaves nothing to vary; non-finite values and empty sequences are left out.
    assert bootstrap_interval([[0.1, 0.3, float("nan")], []]) == pytest.approx((0.2, 0.2))
    # Objects 0, 0, 0 | 1 (mean 0.25): resample means 0, 0.25 or 1, again with probability 1/4, 1/2, 1/4.
    assert bootstrap_interval([[0.0, 0.0, 0.0], [1.0]]) == pytest.approx((0.0, 1.0))
    assert all(np.isnan(bootstrap_interval([])))
