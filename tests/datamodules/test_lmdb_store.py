"""The store format: records, index, shared read handles (fork), the resumable atomic writer."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import cv2
import numpy as np
import pytest
from siammask.datamodules.lmdb_store import (
    FORMAT_VERSION,
    MAGIC,
    ChunkMeta,
    StoreError,
    StoreIndex,
    StoreWriter,
    check_output,
    chunk_key,
    decode_record,
    encode_record,
    open_env,
    read_header,
    read_store,
)

SETTINGS = {"dataset": "custom", "root": "/data", "jpeg_quality": 95}
HEADER = {"dataset": "custom", "split": "train", "has_masks": True, "crop": {"out_size": 64}}


def smooth_image(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return np.stack([x * 3, y * 3, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)  # BGR


def track(obj: int, frames: list[int], positions: list[int], with_mask: bool = True) -> dict:
    n = len(frames)
    return {"object": obj, "frames": frames, "records": positions,
            "box_xyxy_crop": [[20.0, 22.0, 40.0, 41.0]] * n, "box_xyxy_image": [[1.0, 2.0, 3.0, 4.0]] * n,
            "image_hw": [[48, 64]] * n, "has_mask": [with_mask] * n}


def test_record_round_trip_keeps_box_and_mask_exactly_and_the_image_to_jpeg_precision():
    image_bgr = smooth_image()
    mask = np.zeros((64, 64), np.uint8)
    cv2.circle(mask, (30, 30), 12, 1, -1)
    box = [20.25, 18.5, 41.75, 42.0]
    image_rgb, box_out, mask_out = decode_record(encode_record(image_bgr, box, mask, 95, 1))
    assert np.abs(image_rgb.astype(int) - image_bgr[..., ::-1]).mean() < 2.0  # BGR in, RGB out
    np.testing.assert_array_equal(box_out, box)
    np.testing.assert_array_equal(mask_out, mask)
    assert decode_record(encode_record(image_bgr, box, None, 95, 1))[2] is None


def test_truncated_or_undecodable_records_raise_store_error():
    record = encode_record(smooth_image(), [1, 2, 3, 4], None, 95, 1)
    with pytest.raises(StoreError, match="does not match its header"):
        decode_record(record[:-5])
    with pytest.raises(StoreError, match="shorter than"):
        decode_record(record[:10])
    with pytest.raises(StoreError, match="JPEG that does not decode"):
        decode_record(record[:24] + b"\0" * (len(record) - 24))


def test_index_groups_frames_by_track_and_video_and_round_trips_through_bytes():
    index = StoreIndex.from_videos([("a", [track(1, [0, 5, 10], [0, 1, 2]), track(2, [5], [3])]),
                                    ("empty", []), ("b", [track(7, [0], [4], with_mask=False)])])
    assert list(index.video_names) == ["a", "b"]
    np.testing.assert_array_equal(index.track_video, [0, 0, 1])
    np.testing.assert_array_equal(index.track_object, [1, 2, 7])
    np.testing.assert_array_equal(index.track_lengths(), [3, 1, 1])
    np.testing.assert_array_equal(index.frame_number, [0, 5, 10, 5, 0])
    np.testing.assert_array_equal(index.frame_has_mask, [True] * 4 + [False])
    index.validate(crop_size=64)
    copy = StoreIndex.from_bytes(index.to_bytes())
    for name in ("video_names", "track_start", "frame_record", "frame_box_xyxy", "frame_image_hw"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(index, name))


@pytest.mark.parametrize("field, value, message", [
    ("frame_box_xyxy", np.array([[20, 22, 80, 41]] * 5, np.float32), "outside the 64 crop"),
    ("track_start", np.array([0, 5, 5]), "empty track"),
    ("frame_record", np.array([0, 1, 2, 3, 3]), "same record twice"),
    ("frame_image_hw", np.zeros((4, 2), np.int32), "frame_image_hw has shape"),
])
def test_index_validation_names_the_inconsistency(field, value, message):
    index = StoreIndex.from_videos([("a", [track(1, [0, 5, 10], [0, 1, 2]), track(2, [5, 6], [3, 4])])])
    broken = StoreIndex(**{**index.__dict__, field: value})
    with pytest.raises(StoreError, match=message):
        broken.validate(crop_size=64)


def _write_store(out: Path, chunks: int = 2, failures_in: int | None = None) -> StoreWriter:
    writer = StoreWriter(out, SETTINGS)
    for chunk in range(chunks):
        meta = ChunkMeta("video", [track(1, [chunk], [0])],
                         failures=[{"reason": "missing_image"}] if chunk == failures_in else [])
        record = encode_record(smooth_image(), [20, 22, 40, 41], None, 90, 1)
        writer.add_chunk(chunk_key("video", chunk), meta, [record])
    return writer


def test_writer_resumes_committed_chunks_and_retries_the_ones_with_failures(tmp_path):
    out = tmp_path / "out"
    _write_store(out, chunks=3, failures_in=1).close()
    writer = StoreWriter(out, SETTINGS)
    assert writer.done_chunks == {chunk_key("video", 0), chunk_key("video", 2)}
    assert writer.next_record == 3  # new records go after the kept ones
    writer.close()
    with pytest.raises(StoreError, match=r"differs in \['jpeg_quality'\]"):
        StoreWriter(out, {**SETTINGS, "jpeg_quality": 80})
    fresh = StoreWriter(out, {**SETTINGS, "jpeg_quality": 80}, resume=False)
    assert fresh.done_chunks == set() and fresh.next_record == 0
    fresh.close()


def test_publish_renames_the_partial_only_once_complete(tmp_path):
    out = tmp_path / "out"
    writer = _write_store(out)
    partial = tmp_path / "out.partial"
    assert not out.exists() and partial.is_dir()
    metas = writer.read_chunks([chunk_key("video", 0), chunk_key("video", 1)])
    assert [m.tracks[0]["records"] for m in metas] == [[0], [1]]  # positions became record numbers
    merged = {**metas[0].tracks[0]}
    for key in ("frames", "records", "box_xyxy_crop", "box_xyxy_image", "image_hw", "has_mask"):
        merged[key] = metas[0].tracks[0][key] + metas[1].tracks[0][key]
    writer.publish(HEADER, StoreIndex.from_videos([("video", [merged])]), {"note": "summary"})
    assert not partial.exists() and (out / "prepare_summary.json").is_file()
    header, index = read_store(out)
    assert (header["magic"], header["format_version"], index.num_frames) == (MAGIC, FORMAT_VERSION, 2)


def test_check_output_refuses_a_file_and_accepts_an_empty_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        check_output(tmp_path / "file", overwrite=True)
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", overwrite=False)


def test_missing_store_error_points_at_an_unfinished_partial(tmp_path):
    _write_store(tmp_path / "out").close()
    with pytest.raises(StoreError, match="unfinished prepare left .*out.partial"):
        read_header(tmp_path / "out")
    with pytest.raises(StoreError, match="unfinished prepare"):
        read_header(tmp_path / "out.partial")
    (tmp_path / "plain").mkdir()
    with pytest.raises(StoreError, match="no data.mdb"):
        read_header(tmp_path / "plain")


def _published(out: Path) -> Path:
    writer = _write_store(out, chunks=1)
    writer.publish(HEADER, StoreIndex.from_videos([("video", [track(1, [0], [0])])]), {})
    return out


def _child_reads(path: str, parent_handle: int, queue) -> None:
    env = open_env(path)
    with env.begin() as txn:
        queue.put((id(env) != parent_handle, txn.get(b"__siammask__") is not None))


def test_read_handle_is_shared_in_a_process_and_replaced_after_fork(tmp_path):
    out = _published(tmp_path / "out")
    env = open_env(out)
    assert open_env(out) is env and read_header(out)["dataset"] == "custom"
    queue = mp.get_context("fork").SimpleQueue()
    child = mp.get_context("fork").Process(target=_child_reads, args=(str(out), id(env), queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0 and queue.get() == (True, True)
    with env.begin() as txn:  # the parent's handle still works
        assert txn.get(b"__index__") is not None
