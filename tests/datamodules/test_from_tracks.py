"""track.py output -> one custom-layout video: masks become object-id maps, targets without a mask keep their box,
and the custom reader (benchmark and prepare) reads the result back as the same objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from command_line import run_command
from custom_videos import write_custom_videos
from PIL import Image
from siammask.datamodules.from_tracks import from_tracks, main
from siammask.datamodules.prepare import prepare, resolve_config

from siammask.evaluation.datasets import custom_dataset
from siammask.geometry import mask_to_box_xyxy, polygon_from_box_xyxy
from siammask.tracking.io import open_frames
from siammask.tracking.tracker import StageTimes, TrackResult
from siammask.tracking.video import track_video


class ReplayTracker:
    """Returns given masks frame by frame (target 2 loses its mask in the last frame), like a tracker would."""

    def __init__(self, masks: np.ndarray):  # (T, K, H, W) 0/1
        self.masks, self.frame = masks, 0
        self.timings = StageTimes()  # track_video records each step's stage times

    def _results(self) -> list[TrackResult]:
        results = []
        for mask in self.masks[self.frame]:
            box = mask_to_box_xyxy(mask) if mask.any() else np.array([1.0, 1.0, 9.0, 9.0])
            results.append(TrackResult(box, polygon_from_box_xyxy(box), polygon_from_box_xyxy(box),
                                       mask.astype(np.uint8), 0.9))
        return results

    def init(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray, masks: None = None) -> list[TrackResult]:
        self.frame = 0
        return [TrackResult(b, polygon_from_box_xyxy(b), polygon_from_box_xyxy(b), None, 1.0) for b in boxes_xyxy]

    def track(self, image_rgb: np.ndarray) -> list[TrackResult]:
        self.frame += 1
        return self._results()


@pytest.fixture()
def tracked(tmp_path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A 4-frame video (frames folder), its label maps, and track.py outputs replaying them for two targets."""
    frames_dir = write_custom_videos(tmp_path / "source", videos=1, frames=4) / "video0"
    labels = np.stack([np.array(Image.open(frames_dir / "masks" / f"{f:05d}.png")) for f in range(4)])
    masks = np.stack([labels == 1, labels == 2], axis=1).astype(np.uint8)
    masks[3, 1] = 0  # target 2 lost in the last frame: it keeps a box, no mask
    first_boxes = np.stack([mask_to_box_xyxy(m) for m in masks[0]])
    out = tmp_path / "track_out"
    track_video(open_frames(frames_dir), ReplayTracker(masks), first_boxes, out, overlay=False, progress=False)
    return out, frames_dir, masks, first_boxes


def test_tracks_become_a_custom_video_that_reads_back_as_the_same_objects(tracked, tmp_path):
    out, frames_dir, masks, first_boxes = tracked
    dest = from_tracks(out, frames_dir, tmp_path / "mine" / "clip")
    assert sorted(p.name for p in (dest / "masks").iterdir()) == ["00001.png", "00002.png", "00003.png"]
    box, mask = custom_dataset(dest.parent)
    assert box.names == ["clip-1", "clip-2"] and mask.names == ["clip"]
    object1 = box.load("clip-1")
    assert len(object1.frames) == 4
    np.testing.assert_allclose(object1.init_box_xyxy(0), first_boxes[0], atol=1e-3)  # frame 0: the given box
    video = mask.load("clip")
    for f in (1, 2, 3):
        np.testing.assert_array_equal(video.labels[f - 1] == 1, masks[f, 0].astype(bool))
        np.testing.assert_array_equal(video.labels[f - 1] == 2, masks[f, 1].astype(bool))
    np.testing.assert_allclose(box.load("clip-2").init_box_xyxy(3), [1, 1, 9, 9])  # lost: its tracked box
    np.testing.assert_array_equal(np.array(Image.open(dest / "00002.jpg")), np.array(Image.open(frames_dir /
                                                                                               "00002.jpg")))
    summary = prepare("custom", resolve_config("custom", {"root": str(dest.parent), "out": str(tmp_path / "store"),
                                                          "workers": 1}))
    assert summary["tracks"] == 2 and summary["frames"] == 8 and not summary["failures"]


def test_other_frames_than_the_tracked_ones_are_refused_naming_both(tracked, tmp_path):
    out, _, _, _ = tracked
    other = write_custom_videos(tmp_path / "other", videos=1, frames=4, size=(96, 72)) / "video0"
    with pytest.raises(ValueError, match=rf"masks of {out} are 160x120 but the frames of {other} are 96x72"):
        from_tracks(out, other, tmp_path / "dest")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'nothing' / 'results.json'} not found"):
        from_tracks(tmp_path / "nothing", other, tmp_path / "dest")


def test_command_line_refuses_a_non_empty_dest_without_overwrite(tracked, tmp_path, capsys):
    out, frames_dir, _, _ = tracked
    dest, runs = tmp_path / "dest", tmp_path / "runs"
    given = (f"track_dir={out}", f"input={frames_dir}", f"dest={dest}")
    assert run_command(main, *given, run_dir=runs) == 0
    assert run_command(main, *given, run_dir=runs) == 1
    assert f"{dest} exists and is not empty" in capsys.readouterr().err
    assert run_command(main, *given, "overwrite=true", run_dir=runs) == 0


def test_a_video_file_input_is_decoded_into_numbered_jpeg_frames(tracked, tmp_path):
    import cv2

    out, frames_dir, _, _ = tracked
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for f in range(5):  # one frame more than tracked: only the tracked ones are written
        writer.write(cv2.imread(str(frames_dir / f"{f if f < 4 else 3:05d}.jpg")))
    writer.release()
    dest = from_tracks(out, video, tmp_path / "mine" / "clip")
    assert sorted(p.name for p in dest.glob("*.jpg")) == [f"{f:05d}.jpg" for f in range(4)]
    assert custom_dataset(dest.parent)[1].load("clip").image_hw == (120, 160)
