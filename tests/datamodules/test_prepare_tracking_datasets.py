"""The training splits of GOT-10k, LaSOT and TrackingNet, drawn by the test in their official layouts, through
prepare -> LMDB -> pair sampler: the tracks, boxes and frame numbers stored, the frames where the target is not
visible left out (and never drawn), and the wrong folders refused naming what is missing.

Each video shows one red rectangle (object id 0, ``colour_of(0)``) moving a few pixels per frame; in the frames
the annotation marks as absent it is not drawn, so a crop of such a frame would show no target.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from siammask.datamodules.check_store import check
from siammask.datamodules.lmdb_source import LmdbTrackSource
from siammask.datamodules.lmdb_store import SUMMARY_NAME
from siammask.datamodules.prepare import prepare, resolve_config
from siammask.datamodules.readers import LayoutError
from siammask.datamodules.readers.lasot import official_test_split
from siammask.datamodules.sampler import PairSampler, SourceSpec
from test_prepare_layouts import (
    BACKGROUND_RGB,
    H,
    W,
    assert_store_frames_match,
    build_ytb_vos,
    paint,
    rect_mask,
    write_jpeg,
)

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 5


def box_xywh(position: int, video: int) -> tuple[int, int, int, int]:
    """The target's box in frame ``position`` (0-based) of ``video``: integer pixels, inside the 160x120 frame."""
    return 30 + 4 * position + 20 * video, 35 + 3 * position, 33, 26


def write_frames(folder: Path, video: int, names: list[str], hidden: set[int]) -> None:
    """``folder/<names[i]>``: the target in its box, except at the positions in ``hidden`` (background only)."""
    for position, name in enumerate(names):
        if position in hidden:
            image = np.empty((H, W, 3), np.uint8)
            image[:] = BACKGROUND_RGB
        else:
            x, y, w, h = box_xywh(position, video)
            image = paint({0: rect_mask(x, y, x + w, y + h)})
        write_jpeg(folder / name, image)


def box_lines(video: int, zero: set[int] = frozenset()) -> str:
    """groundtruth lines ``x,y,w,h``; ``0,0,0,0`` at the positions in ``zero`` (how an absent frame is boxed)."""
    boxes = [(0, 0, 0, 0) if p in zero else box_xywh(p, video) for p in range(FRAMES)]
    return "".join(",".join(f"{v:g}" for v in box) + "\n" for box in boxes)


def build_got10k(root: Path, split: str = "train") -> Path:
    """Two sequences: the first with frame 3 in ``absence.label`` (its box kept, as the dataset keeps the last
    one), the second with frame 4 fully covered (``cover.label`` 0) while not absent."""
    names = [f"GOT-10k_{split.capitalize()}_{i:06d}" for i in (1, 2)]
    hidden = [{2}, {3}]
    for video, (name, gone) in enumerate(zip(names, hidden)):
        folder = root / split / name
        write_frames(folder, video, [f"{n:08d}.jpg" for n in range(1, FRAMES + 1)], gone)
        (folder / "groundtruth.txt").write_text(box_lines(video))
        (folder / "absence.label").write_text("".join("1\n" if video == 0 and p in gone else "0\n"
                                                      for p in range(FRAMES)))
        (folder / "cover.label").write_text("".join("0\n" if video == 1 and p in gone else "8\n"
                                                    for p in range(FRAMES)))
        (folder / "cut_by_image.label").write_text("0\n" * FRAMES)
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: thing\nmotion_class: moving\n")
    (root / split / "list.txt").write_text("\n".join(names) + "\n")
    return root


def build_lasot(root: Path) -> Path:
    """airplane-1 (an official test sequence: left out), airplane-2 with frame 3 out of view and bear-3 with frame
    2 fully occluded (box kept) and frame 4 out of view (box ``0,0,0,0``)."""
    sequences = {"airplane-1": ({}, set()), "airplane-2": ({"out_of_view": {2}}, set()),
                 "bear-3": ({"full_occlusion": {1}, "out_of_view": {3}}, {3})}
    for video, (name, (flags, zero)) in enumerate(sequences.items()):
        folder = root / name.split("-")[0] / name
        write_frames(folder / "img", video, [f"{n:08d}.jpg" for n in range(1, FRAMES + 1)],
                     set().union(*flags.values()))
        (folder / "groundtruth.txt").write_text(box_lines(video, zero))
        for label in ("full_occlusion", "out_of_view"):
            marked = flags.get(label, set())
            (folder / f"{label}.txt").write_text(",".join("1" if p in marked else "0" for p in range(FRAMES)))
        (folder / "nlp.txt").write_text("the red box moving right\n")
    return root


def build_trackingnet(root: Path) -> Path:
    """TRAIN_0/vidA with frame 2 unboxed (``0,0,0,0``, TrackingNet's absent target), TRAIN_1/vidB all visible."""
    for video, (chunk, name, zero) in enumerate([("TRAIN_0", "vidA", {2}), ("TRAIN_1", "vidB", set())]):
        write_frames(root / chunk / "frames" / name, video, [f"{n}.jpg" for n in range(FRAMES)], zero)
        (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
        (root / chunk / "anno" / f"{name}.txt").write_text(box_lines(video, zero))
    return root


BUILDERS = {"got10k": build_got10k, "lasot": build_lasot, "trackingnet": build_trackingnet}
EXPECTED = {  # dataset: {video: (the video's position in its builder, frame numbers stored)}, frames left out
    "got10k": ({"GOT-10k_Train_000001": (0, [1, 2, 4, 5]), "GOT-10k_Train_000002": (1, [1, 2, 3, 5])}, 2),
    "lasot": ({"airplane/airplane-2": (1, [1, 2, 4, 5]), "bear/bear-3": (2, [1, 3, 5])}, 3),
    "trackingnet": ({"TRAIN_0/vidA": (0, [0, 1, 3, 4]), "TRAIN_1/vidB": (1, [0, 1, 2, 3, 4])}, 1),
}
FIRST_FRAME = {"got10k": 1, "lasot": 1, "trackingnet": 0}  # the number of a video's first frame file


def prepare_tiny(tmp_path: Path, dataset: str, **settings) -> tuple[Path, dict]:
    root = BUILDERS[dataset](tmp_path / f"{dataset}_root")
    out = tmp_path / f"{dataset}_train"
    summary = prepare(dataset, resolve_config(dataset, {"root": str(root), "out": str(out), "workers": 1,
                                                        **settings}))
    return out, summary


def stored_frames(source: LmdbTrackSource) -> dict[str, list[int]]:
    """Video name -> the original frame numbers of its (one) track."""
    index = source.index
    return {str(index.video_names[index.track_video[t]]):
            [source.frame_number(t, i) for i in range(source.track_length(t))] for t in range(source.num_tracks())}


@pytest.mark.parametrize("dataset", sorted(BUILDERS))
def test_prepare_stores_one_box_track_per_video_without_its_absent_frames(tmp_path, dataset):
    out, summary = prepare_tiny(tmp_path, dataset)
    videos, absent = EXPECTED[dataset]
    source = assert_store_frames_match(out)  # every crop shows the red target filling its stored box, centred
    assert stored_frames(source) == {video: numbers for video, (_, numbers) in videos.items()}
    assert not source.has_masks and set(source.index.track_object.tolist()) == {0}
    assert summary["failures"] == [] and summary["filtered_by_reason"] == {"absent_target": absent}
    assert json.loads((out / SUMMARY_NAME).read_text())["filtered_by_reason"] == {"absent_target": absent}
    assert check(out)["problems"] == []


@pytest.mark.parametrize("dataset", sorted(BUILDERS))
def test_stored_image_boxes_are_the_annotation_read_as_xywh_edges(tmp_path, dataset):
    source = LmdbTrackSource(prepare_tiny(tmp_path, dataset)[0])
    for track, (slot, numbers) in enumerate(EXPECTED[dataset][0].values()):
        expected_xyxy = [[x, y, x + w, y + h] for x, y, w, h in
                         (box_xywh(n - FIRST_FRAME[dataset], slot) for n in numbers)]
        start, stop = source.index.track_start[track], source.index.track_start[track + 1]
        np.testing.assert_allclose(source.index.frame_image_box_xyxy[start:stop], expected_xyxy)


def test_the_pair_sampler_never_draws_an_absent_frame_as_template_or_search(tmp_path):
    specs, absent = [], []
    for dataset in sorted(BUILDERS):
        out, _ = prepare_tiny(tmp_path, dataset)
        specs.append(SourceSpec(LmdbTrackSource(out), num_use=-1, frame_range=100))
        absent.append({"got10k": {("GOT-10k_Train_000001", 3), ("GOT-10k_Train_000002", 4)},
                       "lasot": {("airplane/airplane-2", 3), ("bear/bear-3", 2), ("bear/bear-3", 4)},
                       "trackingnet": {("TRAIN_0/vidA", 2)}}[dataset])
    sampler = PairSampler(specs, seed=3, negative_rate=0.3, samples_per_epoch=400, augment=False)
    drawn: set[tuple[int, str, int]] = set()
    for index in range(len(sampler)):
        plan = sampler.plan(index)
        for ref in (plan.template, plan.search):
            source = specs[ref.source].source
            video = str(source.index.video_names[source.video_of(ref.track)])
            number = source.frame_number(ref.track, ref.index)
            assert (video, number) not in absent[ref.source], f"drew absent frame {number} of {video}"
            drawn.add((ref.source, video, number))
    every_visible = {(s, video, n) for s, dataset in enumerate(sorted(BUILDERS))
                     for video, (_, numbers) in EXPECTED[dataset][0].items() for n in numbers}
    assert drawn == every_visible  # the draws cover every visible frame, so an absent one could have come up


def test_lasot_leaves_out_exactly_the_280_official_test_sequences():
    test = official_test_split()
    assert len(test) == 280 and {"airplane-1", "volleyball-19", "rubicCube-6"} <= test
    categories = {name.rpartition("-")[0] for name in test}
    assert len(categories) == 70 and all(sum(n.startswith(f"{c}-") for n in test) == 4 for c in categories)
    assert "airplane-2" not in test


def test_got10k_val_split_reads_the_val_folder(tmp_path):
    root = build_got10k(tmp_path / "got10k", split="val")
    out = tmp_path / "val"
    prepare("got10k", resolve_config("got10k", {"root": str(root), "out": str(out), "workers": 1, "split": "val"}))
    assert sorted(stored_frames(LmdbTrackSource(out))) == ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]


def test_unreadable_labels_list_their_video_and_the_others_are_prepared(tmp_path):
    root = build_got10k(tmp_path / "got10k")
    (root / "train" / "GOT-10k_Train_000001" / "cover.label").write_text("8\n" * (FRAMES - 1))
    summary = prepare("got10k", resolve_config("got10k", {"root": str(root), "out": str(tmp_path / "out"),
                                                          "workers": 1}))
    assert summary["videos"] == 1
    assert [(f["video"], f["reason"], Path(f["file"]).name, f["detail"]) for f in summary["failures"]] == [
        ("GOT-10k_Train_000001", "bad_annotation", "cover.label", "4 frame labels for the 5 boxes of the video")]


def test_a_missing_label_file_is_listed_by_name(tmp_path):
    root = build_lasot(tmp_path / "lasot")
    (root / "bear" / "bear-3" / "out_of_view.txt").unlink()
    summary = prepare("lasot", resolve_config("lasot", {"root": str(root), "out": str(tmp_path / "out"),
                                                        "workers": 1}))
    assert [(f["video"], f["reason"], Path(f["file"]).name) for f in summary["failures"]] == [
        ("bear/bear-3", "missing_annotation", "out_of_view.txt")]
    assert summary["videos"] == 1


@pytest.mark.parametrize("dataset, wrong, missing", [
    ("got10k", "lasot", r"GOT-10k train sequence list not found: .*train/list\.txt"),
    ("lasot", "got10k", r"no LaSOT sequence folder <category>/<category>-<n> under"),
    ("trackingnet", "got10k", r"no TrackingNet training chunk TRAIN_<i> under"),
    ("lasot", None, r"LaSOT folder not found: .*nowhere"),
    ("trackingnet", "archive", r"TrackingNet folder is a file, not a folder: .*TRAIN_0\.zip"),
])
def test_a_folder_of_another_layout_names_what_is_missing(tmp_path, dataset, wrong, missing):
    if wrong == "archive":  # the download itself given as the root
        root = tmp_path / "TRAIN_0.zip"
        root.write_bytes(b"PK\x05\x06" + bytes(18))
    else:
        root = BUILDERS[wrong](tmp_path / "root") if wrong else tmp_path / "nowhere"
    with pytest.raises(LayoutError, match=missing) as raised:
        prepare(dataset, resolve_config(dataset, {"root": str(root), "out": str(tmp_path / "out"), "workers": 1}))
    assert "expected layout" in str(raised.value) and not (tmp_path / "out").exists()


def test_trackingnet_frames_still_zipped_say_to_extract_them(tmp_path):
    root = tmp_path / "tn"
    (root / "TRAIN_0" / "anno").mkdir(parents=True)
    (root / "TRAIN_0" / "zips").mkdir()
    with pytest.raises(LayoutError, match=r"TRAIN_0 frame folder \(extract the videos of .*TRAIN_0/zips into it\)"):
        prepare("trackingnet", resolve_config("trackingnet", {"root": str(root), "out": str(tmp_path / "o")}))


@pytest.mark.parametrize("dataset", ["lasot", "trackingnet"])
def test_datasets_without_a_val_split_refuse_split_val_saying_what_to_use(tmp_path, dataset):
    root = BUILDERS[dataset](tmp_path / "root")
    with pytest.raises(LayoutError, match=r"no split=val: prepare split=train \(validate on GOT-10k val"):
        prepare(dataset, resolve_config(dataset, {"root": str(root), "out": str(tmp_path / "o"), "split": "val"}))


@pytest.mark.slow
def test_train_on_the_modern_mixture_of_tiny_stores_takes_its_steps(tmp_path):
    """data=modern_mix over the three new stores, a YouTube-VOS store (masks) and a GOT-10k val store."""
    stores = {dataset: prepare_tiny(tmp_path, dataset)[0] for dataset in BUILDERS}
    ytb = tmp_path / "ytb_vos_train"
    prepare("ytb_vos", resolve_config("ytb_vos", {"root": str(build_ytb_vos(tmp_path / "ytb_root")), "out": str(ytb),
                                                  "workers": 1, "min_mask_pixels": 0}))
    val = tmp_path / "got10k_val"
    prepare("got10k", resolve_config("got10k", {"root": str(build_got10k(tmp_path / "gv", "val")), "out": str(val),
                                                "workers": 1, "split": "val"}))
    steps = 2
    datasets = [f"data.datasets.{name}.path={path}" for name, path in {**stores, "ytb_vos": ytb}.items()]
    datasets += [f"data.datasets.{name}.num_use=4" for name in [*stores, "ytb_vos"]]
    result = subprocess.run(
        [sys.executable, "train.py", "data=modern_mix", *datasets, "data.datasets.vid=null", "data.datasets.coco=null",
         "data.datasets.det=null", f"data.val_datasets.got10k.path={val}", "data.val_datasets.got10k.num_use=4",
         "data.sampler.samples_per_epoch=16", "data.val_sampler.samples_per_epoch=4", "data.batch_size=4",
         "data.num_workers=0", "data.pin_memory=false", "data.persistent_workers=false", "model.search_size=127",
         f"++trainer.max_steps={steps}", "++trainer.max_time=null", "trainer.log_every_n_steps=1",
         "callbacks.progress_bar.refresh_rate=0", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == steps
