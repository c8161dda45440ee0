"""VOT accuracy / robustness / lost / EAO on trajectories small enough to compute by hand."""

import numpy as np
import pytest

from siammask.evaluation.region import FAILURE, INIT, SKIP
from siammask.evaluation.vot import (
    eao_bootstrap_interval,
    eao_from_curve,
    expected_overlap_curve,
    score_vot_sequence,
    summarise_vot,
)
from siammask.geometry import polygon_from_box_xyxy

GT_BOX = [0.0, 0.0, 10.0, 10.0]
IMAGE_WH = (40, 40)
FULL = polygon_from_box_xyxy(GT_BOX)  # overlap 1
HALF = polygon_from_box_xyxy([0.0, 0.0, 10.0, 20.0])  # overlap 100 / 200


def region_with_overlap(value: float) -> np.ndarray:
    """A box sharing the ground truth's left, top and height whose overlap is ``value`` (width 10 * value)."""
    return polygon_from_box_xyxy([0.0, 0.0, 10.0 * value, 10.0])


def gt(n: int) -> list[np.ndarray]:
    return [FULL] * n


def test_failure_sequence_gives_lost_count_and_burnin_accuracy():
    # frame 0 init, 1-9 half, 10 failure, 11-14 skipped, 15 re-init, 16-29 full
    trajectory = [INIT] + [HALF] * 9 + [FAILURE] + [SKIP] * 4 + [INIT] + [FULL] * 14
    score = score_vot_sequence(trajectory, gt(30), IMAGE_WH, burnin=3)
    assert score.failures == [10] and score.lost == 1
    # burn-in drops frames 0-2 and 15-17: 7 half frames (3-9) and 12 full frames (18-29) remain
    assert score.accuracy == pytest.approx((7 * 0.5 + 12 * 1.0) / 19)
    assert np.isnan(score.overlaps[[0, 10, 11, 14, 15]]).all()
    summary = summarise_vot([score], skip=5, interval=(1, 30))
    assert summary["lost"] == 1
    assert summary["robustness"] == pytest.approx(100 / 30)


def test_dataset_accuracy_weights_frames_and_robustness_is_failures_per_100_frames():
    a = score_vot_sequence([INIT] + [FULL] * 9, gt(10), IMAGE_WH, burnin=1)  # 9 frames of 1.0
    b = score_vot_sequence([INIT, HALF, FAILURE, SKIP, SKIP, SKIP, SKIP, INIT, HALF, HALF, HALF, FAILURE,
                            SKIP, SKIP, SKIP, SKIP, INIT, HALF, HALF, HALF], gt(20), IMAGE_WH, burnin=1)
    summary = summarise_vot([a, b], skip=5, interval=(1, 20))
    assert summary["lost"] == 2
    assert summary["accuracy"] == pytest.approx((9 * 1.0 + 7 * 0.5) / 16)
    assert summary["robustness"] == pytest.approx(100 * 2 / 30)


def test_eao_curve_on_a_tiny_hand_computed_example():
    # A: no failure, overlaps (init) 1 .5 .5 1 1.  B: fails at frame 2, skip 2 -> re-init at 4, then .6.
    a = score_vot_sequence([INIT, FULL, region_with_overlap(0.5), region_with_overlap(0.5), FULL, FULL],
                           gt(6), IMAGE_WH, burnin=0)
    b = score_vot_sequence([INIT, region_with_overlap(0.8), FAILURE, SKIP, INIT, region_with_overlap(0.6)],
                           gt(6), IMAGE_WH, burnin=0)
    curve = expected_overlap_curve([a, b], skip=2)
    # fragments: A = [_, 1, .5, .5, 1, 1]; B1 = [_, .8, 0, 0, 0, 0] (failed: zeros to the end); B2 = [_, .6]
    expected = [1.0, (1 + 0.8 + 0.6) / 3, (0.75 + 0.4) / 2, (2 / 3 + 0.8 / 3) / 2, (0.75 + 0.2) / 2, (0.8 + 0.16) / 2]
    np.testing.assert_allclose(curve, expected)
    assert eao_from_curve(curve, (2, 4)) == pytest.approx(np.mean(expected[1:4]))
    assert summarise_vot([a, b], skip=2, interval=(2, 4))["eao"] == pytest.approx(np.mean(expected[1:4]))


def test_eao_bootstrap_interval_equals_resampling_the_sequences_one_by_one():
    runs = [[INIT] + [region_with_overlap(v)] * 7 for v in (0.2, 0.5, 0.9)]
    runs.append([INIT, FULL, FAILURE, SKIP, SKIP, INIT, HALF, HALF])
    scores = [score_vot_sequence(run, gt(8), IMAGE_WH, burnin=0) for run in runs]
    low, high = eao_bootstrap_interval(scores, skip=3, interval=(2, 8), resamples=300, seed=4)
    counts = np.random.default_rng(4).multinomial(4, np.full(4, 0.25), 300)
    eaos = [eao_from_curve(expected_overlap_curve([s for s, n in zip(scores, row) for _ in range(n)], skip=3), (2, 8))
            for row in counts]
    assert (low, high) == pytest.approx(tuple(np.percentile(eaos, [2.5, 97.5])))
    eao = summarise_vot(scores, skip=3, interval=(2, 8))["eao"]
    assert 0.2 < low < eao < high < 0.9
    assert summarise_vot(scores, skip=3, interval=(2, 8))["eao_ci95"] == pytest.approx(
        list(eao_bootstrap_interval(scores, skip=3, interval=(2, 8))))
    same = eao_bootstrap_interval([scores[1]] * 3, skip=3, interval=(2, 8))
    assert same == pytest.approx((0.5, 0.5))


def test_failure_too_close_to_the_end_does_not_open_a_fragment():
    # failure at frame 4 of 6 with skip 5: 4 + 5 > 6, so the run stays one fragment padded with NaN
    s = score_vot_sequence([INIT, FULL, FULL, FULL, FAILURE, SKIP], gt(6), IMAGE_WH, burnin=0)
    curve = expected_overlap_curve([s], skip=5)
    np.testing.assert_allclose(curve, [1, 1, 1, 1, 0.75, 0.6])


def test_eao_interval_beyond_the_longest_sequence_is_nan_and_bad_interval_raises():
    s = score_vot_sequence([INIT, FULL, FULL], gt(3), IMAGE_WH, burnin=0)
    curve = expected_overlap_curve([s], skip=5)
    assert np.isnan(eao_from_curve(curve, (100, 356)))
    assert eao_from_curve(curve, (2, 356)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="interval"):
        eao_from_curve(curve, (5, 2))


def test_trajectory_and_ground_truth_of_different_length_are_refused():
    with pytest.raises(ValueError, match="3 entries .* 4 frames"):
        score_vot_sequence([INIT, FULL, FULL], gt(4), IMAGE_WH, burnin=10)
