"""VOT2020 short-term: RLE masks, the anchored reader, the anchor-based runs and the toolkit's A / R / EAO.

The expected numbers are worked out by hand from the vot-toolkit's definitions (``vot/analysis/multistart.py``);
the ``vot`` package itself is not installed here, so it is not run against them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from evaluation_fakes import FakeResult, frame_index, write_frames

from siammask.evaluation.benchmark import Entry, evaluate_protocol, run_benchmark
from siammask.evaluation.datasets import AnchoredSequence, vot2020_dataset
from siammask.evaluation.protocols import Vot2020Protocol
from siammask.evaluation.region import (
    EMPTY_MASK,
    INIT,
    MaskRegion,
    decode_rle,
    encode_rle,
    mask_overlap,
    region_from_text,
)
from siammask.evaluation.report import write_report
from siammask.evaluation.results import read_vot2020_run
from siammask.evaluation.vot2020 import (
    RunScore,
    SequenceScore,
    anchors_from_values,
    expected_overlap_curve,
    frames_before_failure,
    run_frames,
    score_run,
    summarise_vot2020,
)
from siammask.geometry import polygon_from_box_xyxy

HW = (12, 16)
PARAMS = {"threshold": 0.1, "grace": 10, "eao_interval": [1, 6]}


def test_a_hand_written_rle_line_decodes_to_its_mask_at_its_offset_and_encodes_back():
    region = region_from_text("m1,2,3,2,1,2,2,1")  # runs: 1 zero, 2 ones, 2 zeros, 1 one; row by row
    assert isinstance(region, MaskRegion) and (region.x, region.y) == (1, 2)
    assert region.mask.astype(int).tolist() == [[0, 1, 1], [0, 0, 1]]
    full = np.zeros((5, 6), dtype=int)
    full[2, 2:4] = full[3, 3] = 1
    assert (region.full((5, 6)) == full).all()
    assert encode_rle(region) == [1, 2, 3, 2, 1, 2, 2, 1]
    # a mask whose first pixel is set starts with an empty 0 run, as the toolkit writes it
    assert encode_rle(MaskRegion.from_full(np.ones((2, 2)))) == [0, 0, 2, 2, 0, 4]
    assert encode_rle(MaskRegion.from_full(np.zeros((4, 4)))) == [0, 0, 0, 0, 0]
    assert decode_rle([0, 0, 0, 0, 0]).is_empty and region_from_text("m0,0,0,0,0").is_empty  # type: ignore[union-attr]


def test_random_masks_survive_encoding_and_decoding():
    rng = np.random.default_rng(0)
    for _ in range(20):
        full = rng.random(HW) < rng.uniform(0.05, 0.9)
        region = MaskRegion.from_full(full)
        decoded = decode_rle(encode_rle(region))
        assert (decoded.full(HW) == full).all()


@pytest.mark.parametrize("line, problem", [("m1,2,3,2,1,2,2", "add up to 5 pixels"), ("m1,2,3", "at least one run"),
                                           ("m1,2,-3,2,0", "negative"), ("m1,2,a,2,6", "bad mask")])
def test_a_damaged_rle_line_says_what_is_wrong(line, problem):
    with pytest.raises(ValueError, match=problem):
        region_from_text(line)


def test_mask_overlap_counts_pixels_inside_the_image_and_calls_two_empty_regions_identical():
    left = MaskRegion(0, 0, np.ones((2, 2), bool))
    shifted = MaskRegion(1, 0, np.ones((2, 2), bool))
    assert mask_overlap(left, shifted, (5, 5)) == pytest.approx(2 / 6)
    wide = MaskRegion(3, 0, np.ones((2, 4), bool))  # columns 3..6 of a 5 wide image: only 3 and 4 count
    assert mask_overlap(wide, MaskRegion(3, 0, np.ones((2, 2), bool)), (5, 5)) == 1.0
    assert mask_overlap(EMPTY_MASK, EMPTY_MASK, (5, 5)) == 1.0
    assert mask_overlap(EMPTY_MASK, left, (5, 5)) == 0.0
    assert mask_overlap(MaskRegion(9, 9, np.ones((2, 2), bool)), EMPTY_MASK, (5, 5)) == 0.0  # off the image


def test_anchor_directions_follow_the_signs_or_else_the_half_of_the_sequence():
    assert anchors_from_values(np.array([1, 0, 0, 0, 1, 0])) == [(0, False), (4, True)]  # 4 > 6 / 2: backwards
    assert anchors_from_values(np.array([1, 0, 0, 1, 0, 0])) == [(0, False), (3, False)]  # 3 is not past half
    assert anchors_from_values(np.array([0, -1, 0, 0, 1, 0])) == [(4, False), (1, True)]  # signs: the toolkit's
    assert run_frames((4, True), 6) == [4, 3, 2, 1, 0] and run_frames((1, False), 4) == [1, 2, 3]


def test_a_failure_is_the_first_of_grace_low_frames_in_a_row_with_a_visible_target():
    overlaps = np.array([0, .5, .05, .1, 0, .9, 0, 0, 0, .8])
    visible_everywhere = np.zeros(10, bool)
    assert frames_before_failure(overlaps, visible_everywhere, 0.1, 3) == 2  # frames 2, 3, 4 are low
    empty_at_3 = visible_everywhere.copy()
    empty_at_3[3] = True  # an empty ground truth restarts the count
    assert frames_before_failure(overlaps, empty_at_3, 0.1, 3) == 6
    assert frames_before_failure(overlaps, visible_everywhere, 0.1, 10) == 10  # never 10 low in a row


def test_accuracy_robustness_and_eao_match_the_toolkit_definitions_worked_by_hand():
    a = SequenceScore([RunScore(np.array([0, .8, .6, .4, .2]), 5), RunScore(np.array([0, .5, .3, 0]), 2)], 9)
    b = SequenceScore([RunScore(np.array([0, 1.0, 1.0]), 3)], 3)
    assert a.accuracy == pytest.approx(2.5 / 7) and a.robustness == pytest.approx(7 / 9)
    assert b.accuracy == pytest.approx(2 / 3) and b.robustness == 1.0
    # EAO curve: the failed run's overlaps are 0 from frame 2 on; past its end it adds 0.5 / (j - 1)
    curve = expected_overlap_curve(a.runs + b.runs, 6)
    expected = [0, (.8 + .5 + 1) / 3, (.7 + .25 + 1) / 3, (.6 + .5 / 3) / 2, (.5 + .5 / 3) / 2, .5 / 4]
    assert curve == pytest.approx(expected)
    summary = summarise_vot2020([a, b], (2, 6))
    assert summary["accuracy"] == pytest.approx((2.5 + 2) / 10)  # pooled over the frames before failure
    assert summary["robustness"] == pytest.approx((7 / 9 * 9 + 1 * 3) / 12)  # weighted by sequence length
    assert summary["eao"] == pytest.approx(np.mean(expected[2:]))


def test_a_run_scores_the_initialisation_entry_as_an_empty_region():
    truth = [MaskRegion(0, 0, np.ones((2, 2), bool))] * 3
    run = score_run([INIT, truth[1], polygon_from_box_xyxy([0, 0, 2, 2])], truth, (5, 5), 0.1, 10)
    assert run.overlaps.tolist() == [0.0, 1.0, 1.0] and not run.failed


def target_mask(frame: int) -> np.ndarray:
    """The tiny layout's target: a 3x4 block moving right one pixel a frame; absent in frame 2."""
    mask = np.zeros(HW, bool)
    if frame != 2:
        mask[4:7, 2 + frame:6 + frame] = True
    return mask


def make_vot2020(root: Path, num_frames: int = 6, anchors: str = "1\n0\n0\n0\n1\n0\n") -> Path:
    """``list.txt``, one sequence ``ball``: PNG frames carrying their index, masks (frame 3 as a rectangle)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "list.txt").write_text("ball\n")
    write_frames(root / "ball" / "color", num_frames, HW)
    lines = ["m" + ",".join(map(str, encode_rle(MaskRegion.from_full(target_mask(f))))) for f in range(num_frames)]
    lines[3] = "5,4,4,3"  # the same block as x, y, w, h
    (root / "ball" / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (root / "ball" / "anchor.value").write_text(anchors)
    return root


class MaskTracker:
    """Reports the ground-truth mask of the frame it sees (empty off ``visible``) and records every frame."""

    def __init__(self, masks: dict[int, np.ndarray] | None = None) -> None:
        self.masks, self.seen = masks or {}, []

    def init(self, image_rgb, boxes_xyxy, masks=None):
        self.seen.append(("init", frame_index(image_rgb), np.asarray(boxes_xyxy).tolist()))

    def track(self, image_rgb):
        f = frame_index(image_rgb)
        self.seen.append(("track", f))
        corners = polygon_from_box_xyxy([0, 0, 1, 1])
        return [FakeResult(np.zeros(4), corners, corners, self.masks.get(f, target_mask(f)).astype(np.uint8), 1.0)]


def test_the_reader_decodes_masks_rasterises_rectangles_and_reads_the_anchors(tmp_path):
    seq = vot2020_dataset(make_vot2020(tmp_path / "vot2020")).load("ball")
    assert isinstance(seq, AnchoredSequence) and len(seq.frames) == 6 and seq.image_hw == HW
    assert all((seq.gt_regions[f].full(HW) == target_mask(f)).all() for f in range(6))
    assert seq.gt_regions[2].is_empty and seq.anchors == [(0, False), (4, True)]


def test_a_sequence_file_names_the_colour_folder(tmp_path):
    root = make_vot2020(tmp_path / "vot2020")
    (root / "ball" / "color").rename(root / "ball" / "rgb")
    (root / "ball" / "sequence").write_text("fps=30\nchannels.color=rgb/%08d.png\n")
    assert len(vot2020_dataset(root).load("ball").frames) == 6


def test_anchors_in_the_second_half_run_backwards_and_every_run_is_written_in_the_toolkit_layout(tmp_path):
    seq = vot2020_dataset(make_vot2020(tmp_path / "vot2020")).load("ball")
    tracker = MaskTracker()
    protocol = Vot2020Protocol(PARAMS)
    protocol.run(tracker, seq, tmp_path / "results")
    assert [s[:2] for s in tracker.seen] == [("init", 0), *[("track", f) for f in range(1, 6)],
                                             ("init", 4), *[("track", f) for f in (3, 2, 1, 0)]]
    assert tracker.seen[0][2] == [[2, 4, 6, 7]]  # initialised with the box of the anchor's mask
    folder = tmp_path / "results" / "ball"
    assert sorted(p.name for p in folder.iterdir()) == ["ball_00000000.txt", "ball_00000000_time.value",
                                                        "ball_00000004.txt", "ball_00000004_time.value"]
    lines = (folder / "ball_00000004.txt").read_text().splitlines()
    assert lines[0] == "1" and lines[2] == "m0,0,0,0,0" and len(lines) == 5  # frame 2 (no target) is empty
    assert region_from_text(lines[1]).full(HW).tolist() == target_mask(3).tolist()  # type: ignore[union-attr]
    row, _ = protocol.score(seq, tmp_path / "results")
    # every frame matches but each run's initialisation entry, which scores 0 against the visible target
    assert row == {"accuracy": pytest.approx((5 + 4) / 11), "robustness": 1.0, "anchors": 2, "failures": 0,
                   "frames": 6}


def test_a_lost_target_fails_the_run_and_saved_results_score_the_same(tmp_path):
    root = make_vot2020(tmp_path / "vot2020", num_frames=14, anchors="1\n")
    lost = {f: np.zeros(HW, bool) for f in range(3, 14)}  # from frame 3 on the tracker reports nothing
    protocol = Vot2020Protocol({**PARAMS, "grace": 3})
    dataset = vot2020_dataset(root)
    tracked = evaluate_protocol(protocol, dataset, Entry("ours", tmp_path / "run", lambda: MaskTracker(lost)),
                                progress=False)
    # overlaps 0 (init), 1, 1 (frame 2: both empty), then 0 from frame 3: failure at frame 3 after 3 low frames
    assert tracked.per_sequence["ball"]["failures"] == 1
    assert tracked.summary["accuracy"] == pytest.approx(2 / 3)
    assert tracked.summary["robustness"] == pytest.approx(3 / 14)
    saved = evaluate_protocol(protocol, dataset, Entry("saved", tmp_path / "run"), progress=False)
    assert saved.summary == tracked.summary


def test_the_toolkits_binary_results_read_as_its_text_results(tmp_path):
    """Bytes laid out as vot-toolkit's ``write_trajectory_binary`` lays them out: the code 1, a 2x1 mask at (3, 4)
    whose runs are 1 zero and 1 one, and a rectangle."""
    data = struct.pack("<hI", 1, 3) + struct.pack("<BI", 0, 1) + struct.pack("<BhhHHH2H", 3, 3, 4, 2, 1, 2, 1, 1)
    data += struct.pack("<Bffff", 1, 1.0, 2.0, 3.0, 4.0)
    (tmp_path / "ball").mkdir()
    (tmp_path / "ball" / "ball_00000007.bin").write_bytes(data)
    code, mask, rectangle = read_vot2020_run(tmp_path, "ball", 7, 3)
    assert code == INIT and isinstance(mask, MaskRegion) and (mask.x, mask.y) == (3, 4)
    assert mask.mask.tolist() == [[False, True]]
    assert np.asarray(rectangle).tolist() == [[1, 2], [4, 2], [4, 6], [1, 6]]
    with pytest.raises(ValueError, match=r"ball_00000007\.bin has 3 lines but the sequence has 4"):
        read_vot2020_run(tmp_path, "ball", 7, 4)
    (tmp_path / "ball" / "ball_00000007.bin").write_bytes(data[:-3])
    with pytest.raises(ValueError, match=r"ball_00000007\.bin is not a vot-toolkit binary trajectory"):
        read_vot2020_run(tmp_path, "ball", 7, 3)


def test_metrics_json_and_the_report_carry_the_vot2020_section(tmp_path):
    benchmark = {"name": "vot2020", "reader": "vot2020", "root": str(make_vot2020(tmp_path / "vot2020")),
                 "protocols": ["vot2020"], "vot2020": PARAMS}
    results = run_benchmark(benchmark, [Entry("ours", tmp_path / "results", MaskTracker)], progress=False)
    _, table = write_report(tmp_path / "report", benchmark, {}, results, main="ours")
    section = json.loads((tmp_path / "report" / "metrics.json").read_text())["vot2020"]
    assert {"eao", "accuracy", "robustness"} <= set(section) and section["robustness"] == 1.0
    assert section["accuracy"] == pytest.approx(9 / 11) and "ball" in section["per_sequence"]
    assert "| tracker | EAO | Accuracy | Robustness |" in table and "### vot2020 per sequence" in table
    assert (tmp_path / "report" / "eao_curve.png").is_file()


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"list\.txt"):
        vot2020_dataset(tmp_path / "nowhere")
    root = make_vot2020(tmp_path / "vot2020")
    gt = root / "ball" / "groundtruth.txt"
    gt.write_text("\n".join(["m1,1,2,2,9", *gt.read_text().splitlines()[1:]]) + "\n")
    with pytest.raises(ValueError, match=r"groundtruth\.txt line 1: .*add up to 9 pixels"):
        vot2020_dataset(root).load("ball")
    make_vot2020(root)
    (root / "ball" / "anchor.value").unlink()
    with pytest.raises(FileNotFoundError, match=r"anchor\.value"):
        vot2020_dataset(root).load("ball")
    (root / "ball" / "anchor.value").write_text("0\n0\n")
    with pytest.raises(ValueError, match=r"anchor\.value marks no anchor"):
        vot2020_dataset(root).load("ball")
