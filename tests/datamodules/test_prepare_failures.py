"""Bad input for prepare: clear messages, counted and listed, nothing half-written, nothing prepared lost."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path
from unittest import mock

import lmdb
import numpy as np
import pytest
import siammask.datamodules.prepare as prepare_module
from command_line import run_command
from siammask.datamodules.check_store import check
from siammask.datamodules.check_store import main as check_main
from siammask.datamodules.lmdb_source import LmdbTrackSource
from siammask.datamodules.lmdb_store import (
    PARTIAL_SUFFIX,
    SUMMARY_NAME,
    StoreError,
    is_store,
    open_env,
    read_store,
    record_key,
)
from siammask.datamodules.prepare import ENTRY_KEYS, PrepareConfig, main, prepare, resolve_config
from siammask.datamodules.readers import LayoutError
from test_prepare_layouts import (
    W,
    assert_store_frames_match,
    build_coco,
    build_custom,
    build_vid,
    build_ytb_vos,
    prepared,
)


def run(dataset: str, root: Path, out: Path, **settings) -> dict:
    cfg = resolve_config(dataset, {"root": str(root), "out": str(out), "workers": 1, "min_mask_pixels": 0,
                                   **settings})
    return prepare(dataset, cfg)


def failures(summary: dict) -> list[tuple[str, str]]:
    return sorted((f["reason"], Path(f["file"].split(":")[0]).name) for f in summary["failures"])


def nothing_written(out: Path) -> bool:
    return not out.exists() and not Path(f"{out}{PARTIAL_SUFFIX}").exists()


def test_bad_frames_are_skipped_counted_and_listed_and_the_rest_is_prepared(tmp_path):
    root = build_vid(tmp_path / "root", videos=2, frames=4)
    video = root / "Data" / "VID" / "train" / "ILSVRC2015_VID_train_0000" / "ILSVRC2015_train_00000000"
    notes = root / "Annotations" / "VID" / "train" / "ILSVRC2015_VID_train_0000" / "ILSVRC2015_train_00000001"
    (video / "000001.JPEG").write_bytes(b"not a jpeg at all")
    (video / "000002.JPEG").unlink()
    (notes / "000003.xml").write_text("<annotation><object>")  # truncated XML
    (notes.parent / "ILSVRC2015_train_00000009").mkdir()  # an empty video
    summary = run("vid", root, tmp_path / "out", track_gaps="keep")  # skipped frames leave gaps: keep the tracks whole
    assert failures(summary) == [("bad_annotation", "000003.xml"),
                                 ("empty_video", "ILSVRC2015_train_00000009"),
                                 ("missing_image", "000002.JPEG"), ("undecodable_image", "000001.JPEG")]
    assert summary["failures_by_reason"] == {"bad_annotation": 1, "empty_video": 1, "missing_image": 1,
                                             "undecodable_image": 1}
    assert summary["frames"] == 2 * (8 - 3)  # two objects in each of the 5 good frames
    assert json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())["failures"] == summary["failures"]
    assert_store_frames_match(tmp_path / "out")


def test_a_truncated_jpeg_is_skipped_counted_and_named(tmp_path, capsys):
    root = build_vid(tmp_path / "root", videos=1, frames=3)
    image = root / "Data" / "VID" / "train" / "ILSVRC2015_VID_train_0000" / "ILSVRC2015_train_00000000" / "000001.JPEG"
    data = image.read_bytes()
    assert data.startswith(b"\xff\xd8")  # the fixture writes real JPEGs
    image.write_bytes(data[: len(data) // 2])  # libjpeg alone would decode it, only warning without a name
    summary = run("vid", root, tmp_path / "out", track_gaps="keep")
    assert failures(summary) == [("truncated_image", "000001.JPEG")]
    assert summary["failures_by_reason"] == {"truncated_image": 1}
    assert summary["frames"] == 2 * 2  # two objects in each of the two intact frames
    saved = json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())
    assert saved["failures_by_reason"] == {"truncated_image": 1} and "000001.JPEG" in saved["failures"][0]["file"]
    printed = capsys.readouterr()
    assert "truncated_image" in printed.out
    assert "prepare vid/train: 1/1 chunks" in printed.err  # a progress line, as in a log file (no terminal)


def test_missing_mask_png_and_zero_area_mask_are_listed(tmp_path, capsys):
    root = build_ytb_vos(tmp_path / "root", videos=1, frames=4)
    (root / "train" / "Annotations" / "vid0000" / "00005.png").unlink()
    meta = json.loads((root / "train" / "meta.json").read_text())
    meta["videos"]["vid0000"]["objects"]["2"]["frames"].append("00015")  # listed, but no pixel of it there
    (root / "train" / "meta.json").write_text(json.dumps(meta))
    summary = run("ytb_vos", root, tmp_path / "out")
    assert failures(summary) == [("empty_mask", "00015.jpg"), ("missing_annotation", "00005.png")]
    assert summary["frames"] == 7 - 2  # 4 + 3 object-frames, less the two in the frame without mask
    printed = capsys.readouterr().out
    assert "missing_annotation" in printed and "00005.png" in printed and "failures: 2" in printed


def test_coco_degenerate_polygon_is_an_empty_mask_and_zero_size_box_is_listed(tmp_path):
    root = build_coco(tmp_path / "root", images=2)
    path = root / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["segmentation"] = [[30.0, 30.0, 30.0, 30.0, 30.0, 30.0]]  # image 1, object 10
    data["annotations"][1]["bbox"] = [10, 10, 0, 5]  # image 1, object 11
    path.write_text(json.dumps(data))
    summary = run("coco", root, tmp_path / "out")
    assert [(f["reason"], f["detail"].split(":")[0]) for f in summary["failures"]] == [
        ("empty_mask", "object 10"), ("zero_area_box", "object 11")]
    assert summary["tracks"] == 2 + 2  # image 2's two objects, and each image's crowd region (kept, as the release)


def test_custom_boxes_outside_the_image_zero_size_or_malformed_are_listed(tmp_path):
    root = build_custom(tmp_path / "root", frames=3)
    boxes = root / "boxed" / "boxes.txt"
    boxes.write_text(boxes.read_text()
                     + f"00000,7,{W + 10},5,20,20\n"  # right of the image
                     + "00001,8,10,10,0,20\n"  # zero width
                     + "00001,9,10,10\n"  # too few fields
                     + "00009,3,10,10,20,20\n")  # no such frame
    (root / "empty_video").mkdir()
    summary = run("custom", root, tmp_path / "out")
    assert sorted(f["reason"] for f in summary["failures"]) == [
        "bad_annotation", "bad_annotation", "box_outside_image", "empty_video", "zero_area_box"]
    lines = sorted(f["file"].rsplit(":", 1)[-1] for f in summary["failures"]
                   if f["reason"] == "bad_annotation")
    assert lines == ["10", "11"]  # after the comment line and 3 frames x 2 objects
    assert summary["tracks"] == 4


def test_everything_broken_raises_and_publishes_nothing(tmp_path):
    root = build_custom(tmp_path / "root", frames=2)
    for image in root.rglob("0000*.*g"):
        if image.parent.name != "masks":
            image.write_bytes(b"garbage")
    out = tmp_path / "out"
    with pytest.raises(StoreError, match="no object of custom"):
        run("custom", root, out)
    assert not out.exists()
    summary = json.loads((Path(f"{out}{PARTIAL_SUFFIX}") / SUMMARY_NAME).read_text())
    assert summary["failures_by_reason"] == {"undecodable_image": 4}


@pytest.mark.parametrize("dataset, missing", [
    ("coco", "instances_train2017.json"), ("ytb_vos", "meta.json"),
    ("vid", "Annotations/VID/train"), ("det", "Annotations/DET/train")])
def test_wrong_root_folder_names_the_expected_file_and_creates_nothing(tmp_path, dataset, missing):
    root = build_custom(tmp_path / "root", frames=1)  # a folder of another layout
    out = tmp_path / "out"
    with pytest.raises(LayoutError, match=missing):
        run(dataset, root, out)
    assert nothing_written(out)


def test_missing_root_and_empty_custom_root_are_layout_errors(tmp_path):
    with pytest.raises(LayoutError, match="not found"):
        run("custom", tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="no video folder"):
        run("custom", tmp_path / "empty", tmp_path / "out")
    assert nothing_written(tmp_path / "out")


@pytest.mark.parametrize("given, message", [
    (["dataset=coco", "root=x", "no_such_key=1"], "no_such_key"),
    (["dataset=imagenet", "root=x"], "unknown dataset 'imagenet'"),
    (["dataset=vid", "split=test"], "split='test'"),
    (["dataset=coco", "root=???"], "root"),  # root missing
])
def test_cli_reports_usage_errors_with_exit_code_1(given, message, tmp_path, capsys):
    overrides = [f"root={tmp_path}", f"out={tmp_path / 'o'}", *given]
    assert run_command(main, *overrides, run_dir=tmp_path / "run") == 1
    assert message in capsys.readouterr().err
    assert nothing_written(tmp_path / "o")


def test_cli_settings_override_the_dataset_defaults_and_the_rest_keep_them(tmp_path):
    """conf/prepare.yaml leaves every setting null: the dataset's own default applies unless one is given."""
    calls = []
    with mock.patch.object(prepare_module, "prepare", lambda dataset, cfg: calls.append((dataset, cfg))):
        for extra in ([], ["min_mask_pixels=5", "val_videos=[a]"]):
            assert run_command(main, "dataset=ytb_vos", "root=r", "out=o", *extra, run_dir=tmp_path / "run") == 0
    assert calls[0] == ("ytb_vos", resolve_config("ytb_vos", ["root=r", "out=o"]))
    assert calls[0][1].min_mask_pixels == 1000  # the release's YouTube-VOS filter
    assert calls[1][1] == resolve_config("ytb_vos", ["root=r", "out=o", "min_mask_pixels=5", "val_videos=[a]"])
    assert calls[1][1].min_mask_pixels == 5 and calls[1][1].val_videos == ["a"]


def test_cli_lists_exactly_the_prepare_settings():
    from dataclasses import fields

    from hydra import compose, initialize_config_module

    with initialize_config_module("siammask.conf", version_base="1.3"):
        cfg = compose("prepare")
    assert set(cfg) - set(ENTRY_KEYS) == {f.name for f in fields(PrepareConfig)}


def _foreign_lmdb(path: Path) -> None:
    env = lmdb.open(str(path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"hello", b"world")
    env.close()


def test_foreign_lmdb_is_recognised_and_never_replaced(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    _foreign_lmdb(foreign)
    with pytest.raises(StoreError, match="not a SiamMask store"):
        LmdbTrackSource(foreign)
    assert run_command(check_main, f"path={foreign}", run_dir=tmp_path / "run") == 1
    assert "foreign LMDB" in capsys.readouterr().err
    root = build_custom(tmp_path / "root", frames=1)
    for overwrite in (False, True):
        with pytest.raises(StoreError, match="not a SiamMask store; refusing"):
            run("custom", root, foreign, overwrite=overwrite)
    with open_env(foreign).begin() as txn:
        assert txn.get(b"hello") == b"world"


def test_store_of_another_format_version_is_refused_with_its_version(tmp_path):
    out = prepared(tmp_path, "custom")
    env = lmdb.open(str(out), map_size=1 << 30)
    with env.begin(write=True) as txn:
        header = json.loads(txn.get(b"__siammask__"))
        txn.put(b"__siammask__", json.dumps({**header, "format_version": 99}).encode())
    env.close()
    with pytest.raises(StoreError, match="format version 99"):
        LmdbTrackSource(out)


def test_existing_store_is_kept_unless_overwrite_and_then_replaced_whole(tmp_path):
    root = build_vid(tmp_path / "root", videos=1, frames=2)
    out = tmp_path / "out"
    run("vid", root, out)
    before = (out / "data.mdb").read_bytes()
    with pytest.raises(StoreError, match="overwrite=true"):
        run("vid", root, out)
    assert (out / "data.mdb").read_bytes() == before
    build_vid(root, videos=2, frames=2)
    summary = run("vid", root, out, overwrite=True)
    assert summary["videos"] == 2 and read_store(out)[1].num_videos == 2
    assert not any(p.name.startswith("out.") for p in tmp_path.iterdir())  # no partial, no replaced copy left


class Interrupt(KeyboardInterrupt):
    pass


def _interrupt_after(monkeypatch, chunks: int) -> None:
    real = prepare_module.prepare_chunk
    calls = []

    def flaky(job, reader, cfg):
        calls.append(job.video)
        if len(calls) > chunks:
            raise Interrupt
        return real(job, reader, cfg)

    monkeypatch.setattr(prepare_module, "prepare_chunk", flaky)


def test_interrupted_prepare_leaves_no_store_and_resumes_to_the_same_result(tmp_path, monkeypatch, caplog):
    root = build_vid(tmp_path / "root", videos=3, frames=3)
    out = tmp_path / "out"
    _interrupt_after(monkeypatch, chunks=4)
    with pytest.raises(Interrupt), caplog.at_level("WARNING", logger="siammask.datamodules.prepare"):
        run("vid", root, out, frames_per_chunk=2)
    assert "run the same command again to resume" in caplog.text
    assert not out.exists() and not is_store(Path(f"{out}{PARTIAL_SUFFIX}"))
    with pytest.raises(StoreError, match="unfinished prepare"):
        LmdbTrackSource(out)
    monkeypatch.undo()
    with pytest.raises(StoreError, match=r"other settings \(differs in \['jpeg_quality'\]\)"):
        run("vid", root, out, frames_per_chunk=2, jpeg_quality=80)
    summary = run("vid", root, out, frames_per_chunk=2)
    assert summary["chunks"] == 6 and summary["chunks_resumed"] == 4
    run("vid", root, tmp_path / "fresh", frames_per_chunk=2)
    (_, resumed), (_, fresh) = read_store(out), read_store(tmp_path / "fresh")
    for name in ("video_names", "track_object", "track_start", "frame_number", "frame_box_xyxy"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(fresh, name), err_msg=name)
    assert_store_frames_match(out)


def test_resume_false_discards_the_unfinished_build(tmp_path, monkeypatch):
    root = build_vid(tmp_path / "root", videos=2, frames=2)
    _interrupt_after(monkeypatch, chunks=1)
    with pytest.raises(Interrupt):
        run("vid", root, tmp_path / "out")
    monkeypatch.undo()
    summary = run("vid", root, tmp_path / "out", resume=False, jpeg_quality=80)
    assert summary["chunks_resumed"] == 0 and summary["videos"] == 2


def _crash_in_child(root: Path, out: Path) -> None:
    """A hard crash: the process dies in the middle, without any clean-up."""
    real = prepare_module.prepare_chunk
    calls = []

    def dying(job, reader, cfg):
        calls.append(1)
        if len(calls) == 3:
            os._exit(3)
        return real(job, reader, cfg)

    prepare_module.prepare_chunk = dying
    run("vid", root, out, frames_per_chunk=1)


def test_hard_crash_leaves_only_an_unfinished_partial_that_a_rerun_completes(tmp_path):
    root = build_vid(tmp_path / "root", videos=2, frames=2)
    out = tmp_path / "out"
    child = mp.get_context("fork").Process(target=_crash_in_child, args=(root, out))
    child.start()
    child.join(60)
    assert child.exitcode == 3
    assert not out.exists() and Path(f"{out}{PARTIAL_SUFFIX}").is_dir()
    assert not is_store(Path(f"{out}{PARTIAL_SUFFIX}"))
    summary = run("vid", root, out, frames_per_chunk=1)
    assert summary["frames"] == 2 * 2 * 2 and check(out)["problems"] == []


def test_check_reports_missing_and_corrupt_records(tmp_path, capsys):
    out = prepared(tmp_path, "vid")
    env = lmdb.open(str(out), map_size=1 << 30)
    with env.begin(write=True) as txn:
        txn.delete(record_key(0))
        raw = bytearray(txn.get(record_key(1)))
        txn.put(record_key(1), bytes(raw[:-10]))
    env.close()
    stats = check(out, samples=100)
    assert any("1 records listed in the index are missing" in p for p in stats["problems"])
    assert any(p.startswith("record 1:") and "does not match its header" in p for p in stats["problems"])
    assert run_command(check_main, f"path={out}", run_dir=tmp_path / "run") == 1
    assert "2 PROBLEMS" in capsys.readouterr().out
