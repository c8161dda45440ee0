"""OTB success / precision curves on four frames whose overlaps and centre errors are known."""

import numpy as np
import pytest

from siammask.evaluation.otb import (
    NORM_PRECISION_THRESHOLDS,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    centre_errors,
    frame_overlaps,
    score_otb_sequence,
    summarise_otb,
)

GT = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]], dtype=float)  # last: no target
PRED = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 10, 10], [0, 0, 10, 10]], dtype=float)


def test_frame_overlaps_and_errors_mark_unannotated_frames_minus_one():
    np.testing.assert_allclose(frame_overlaps(PRED, GT), [1, 1 / 3, 0, -1])
    np.testing.assert_allclose(centre_errors(PRED, GT), [0, 5, np.sqrt(800), -1])


def test_normalised_errors_divide_the_offset_by_the_ground_truth_size():
    gt = np.array([[0, 0, 10, 40], [0, 0, 10, 40], [0, 0, 0, 5]], dtype=float)
    pred = np.array([[3, 0, 10, 40], [3, 20, 10, 40], [9, 9, 5, 5]], dtype=float)  # offsets (3, 0), (3, 20)
    np.testing.assert_allclose(centre_errors(pred, gt, normalised=True), [0.3, np.hypot(0.3, 0.5), -1])
    score = score_otb_sequence(pred, gt)
    # errors 0.3, 0.58 and -1 (unannotated: a hit): 1/3 below 0.3, 2/3 from 0.3 to 0.5 (0.58 is never within)
    np.testing.assert_allclose(score["norm_precision_curve"], np.where(NORM_PRECISION_THRESHOLDS < 0.3, 1 / 3, 2 / 3))
    assert score["norm_precision"] == pytest.approx(1 / 3)  # reported at 0.2
    assert score["precision"] == pytest.approx(2 / 3)  # in pixels the second error, 20.2 px, misses 20 px

    score = score_otb_sequence(PRED, GT)
    success = np.where(SUCCESS_THRESHOLDS < 1 / 3, 0.5, 0.25)  # > t: frames 0, 1 up to 1/3, then frame 0 only
    success[-1] = 0.0  # nothing is strictly above 1
    np.testing.assert_allclose(score["success_curve"], success)
    assert score["success_auc"] == pytest.approx((7 * 0.5 + 13 * 0.25) / 21)
    # errors 0, 5, 28.3 and -1 (unannotated counts as within every threshold, as the OTB toolkit does)
    precision = np.select([PRECISION_THRESHOLDS < 5, PRECISION_THRESHOLDS < np.sqrt(800)], [0.5, 0.75], 1.0)
    np.testing.assert_allclose(score["precision_curve"], precision)
    assert score["precision"] == pytest.approx(0.75)


def test_dataset_curves_are_means_of_sequence_curves():
    perfect = score_otb_sequence(GT[:3], GT[:3])
    assert perfect["success_auc"] == pytest.approx(20 / 21) and perfect["precision"] == 1.0
    summary = summarise_otb([perfect, score_otb_sequence(PRED, GT)])
    assert summary["success_auc"] == pytest.approx((20 / 21 + 6.75 / 21) / 2)
    assert summary["precision"] == pytest.approx((1 + 0.75) / 2)
    # normalised errors of PRED: 0, 0.5, 2.8 and -1 -> 0.5 at 0.2; the perfect sequence 1
    assert summary["norm_precision"] == pytest.approx((1 + 0.5) / 2)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="3 predicted boxes for 4"):
        score_otb_sequence(PRED[:3], GT)
