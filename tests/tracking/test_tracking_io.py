"""Frame reading: folders and video files, and the errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from siammask.tracking import open_frames, read_image_rgb


def write_image(path: Path, bgr: np.ndarray) -> None:
    assert cv2.imwrite(str(path), bgr)


def test_folder_frames_come_in_numeric_order_as_rgb(tmp_path: Path) -> None:
    for index in (10, 2, 1):
        bgr = np.zeros((8, 12, 3), dtype=np.uint8)
        bgr[..., 0] = index  # blue channel carries the number
        write_image(tmp_path / f"frame{index}.png", bgr)
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = open_frames(tmp_path)
    assert len(frames) == 3 and frames.frame_hw == (8, 12) and frames.fps is None
    assert [int(f[0, 0, 2]) for f in frames] == [1, 2, 10]  # blue is the last RGB channel


def test_real_sequences_open_with_their_sizes(bag_video: Path, tennis_dir: Path, ) -> None:
    tennis = open_frames(tennis_dir)
    assert (len(tennis), tennis.frame_hw) == (70, (480, 854))
    bag = open_frames(bag_video)
    assert bag.frame_hw == (360, 480) and bag.fps == pytest.approx(25.0)
    first = next(iter(bag))
    assert first.shape == (360, 480, 3) and first.dtype == np.uint8


def test_folder_with_frames_of_different_sizes_is_rejected_naming_the_frame(tmp_path: Path) -> None:
    write_image(tmp_path / "00000.jpg", np.zeros((8, 12, 3), np.uint8))
    write_image(tmp_path / "00001.jpg", np.zeros((9, 12, 3), np.uint8))
    with pytest.raises(ValueError, match=r"00001\.jpg.*12x9"):
        open_frames(tmp_path)


@pytest.mark.parametrize("case", ["empty_folder", "corrupt_image", "missing", "not_a_video", "empty_video"])
def test_unreadable_inputs_are_rejected_naming_the_file(tmp_path: Path, case: str) -> None:
    if case == "empty_folder":
        path, message = tmp_path, "holds no images"
    elif case == "corrupt_image":
        (tmp_path / "00000.jpg").write_bytes(b"not a jpeg")
        path, message = tmp_path, r"00000\.jpg"
    elif case == "missing":
        path, message = tmp_path / "nothing.mp4", "neither a video file nor a folder"
    elif case == "not_a_video":
        path = tmp_path / "clip.avi"
        path.write_text("plain text")
        message = r"clip\.avi"
    else:
        path = tmp_path / "empty.avi"
        cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24)).release()
        message = r"empty\.avi"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        open_frames(path)


def test_read_image_rgb_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gone.png"):
        read_image_rgb(tmp_path / "gone.png")
