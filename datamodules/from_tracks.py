"""Turn ``track.py`` output into one video of the custom layout (docs/custom_data.md), to correct and train on.

    python -m siammask.datamodules.from_tracks track_dir=<track.py output_dir>
                                              input=<the video or frame folder tracked>
                                              dest=<root>/<video name> [overwrite=true]

Track a new video from a box, fix the masks that are wrong (any editor that keeps palette or greyscale PNGs
of object ids; delete a mask file to leave a frame out), then ``prepare custom`` the root and train.
Target ``k`` of ``track.py`` (its ``bbox`` order, from 0) becomes object id ``k + 1``. A frame's masks become
one label map (where masks overlap, the later target wins); a target without a mask in a frame (the first
frame when track.py was given a box, whose mask is that box filled: ``mask_from_box`` in results.json, or a
frame where its mask is empty) gets its tracked box in ``boxes.txt``.
Masked objects get no box line, so a corrected mask also corrects the object's box (the tight box of the mask).
"""

from __future__ import annotations

import json
import logging
import shutil
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from siammask.command import command
from siammask.tracking.io import ImageFolder, open_frames

from .readers.custom import write_custom_video

log = logging.getLogger(__name__)


def read_tracks(track_dir: Path) -> tuple[int, dict[int, np.ndarray], dict[int, dict[int, list[float]]]]:
    """Number of frames, label maps by frame (object id = target + 1), and boxes of targets without a mask."""
    results_json = track_dir / "results.json"
    if not results_json.is_file():
        raise FileNotFoundError(f"{results_json} not found: give the output_dir of a track.py run")
    try:
        records = json.loads(results_json.read_text())
        targets = sorted({int(r["target"]) for r in records})
        frames = sorted({int(r["frame"]) for r in records})
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{results_json} is not the results.json of track.py: {error}") from error
    if not records:
        raise ValueError(f"{results_json} holds no tracked frame")
    several = len(targets) > 1
    labels: dict[int, np.ndarray] = {}
    boxes: dict[int, dict[int, list[float]]] = {}
    for record in records:
        frame, target = int(record["frame"]), int(record["target"])
        name = f"{frame:05d}_{target}.png" if several else f"{frame:05d}.png"
        mask_path = track_dir / "masks" / name
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) if mask_path.is_file() else None
        if mask is not None and mask.any() and not record.get("mask_from_box", False):
            label_map = labels.setdefault(frame, np.zeros(mask.shape, np.uint8))
            if label_map.shape != mask.shape:
                raise ValueError(f"{mask_path} is {mask.shape[1]}x{mask.shape[0]}, the other masks of frame "
                                 f"{frame} {label_map.shape[1]}x{label_map.shape[0]}")
            label_map[mask > 127] = target + 1
        else:
            boxes.setdefault(frame, {})[target + 1] = [float(v) for v in record["bbox_xywh"]]
    return frames[-1] + 1, labels, boxes


def from_tracks(track_dir: str | Path, input: str | Path, dest: str | Path, overwrite: bool = False) -> Path:
    """Write ``dest`` (one custom-layout video) from a track.py output folder and the frames it tracked."""
    track_dir, dest = Path(track_dir).expanduser(), Path(dest).expanduser()
    num_frames, labels, boxes = read_tracks(track_dir)
    source = open_frames(input)
    if len(source) < num_frames:
        raise ValueError(f"{input} has {len(source)} frames but {track_dir / 'results.json'} tracked {num_frames}: "
                         f"give the input that track.py read")
    for label_map in labels.values():
        if label_map.shape != tuple(source.frame_hw):
            raise ValueError(f"masks of {track_dir} are {label_map.shape[1]}x{label_map.shape[0]} but the frames of "
                             f"{input} are {source.frame_hw[1]}x{source.frame_hw[0]}: give the input track.py read")
    if dest.exists() and any(dest.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{dest} exists and is not empty; choose another dest or pass overwrite=true")
        shutil.rmtree(dest)
    frames = source.files[:num_frames] if isinstance(source, ImageFolder) else islice(source, num_frames)
    write_custom_video(dest, frames, labels, boxes)
    masked = len(labels)
    log.info("wrote %s: %d frames, %d with masks, %d with boxes only (boxes.txt); next: python -m "
             "siammask.datamodules.prepare dataset=custom root=%s out=<store>", dest, num_frames, masked, len(boxes),
             dest.parent)
    return dest


@command("from_tracks")
def main(cfg: DictConfig) -> None:
    from_tracks(cfg.track_dir, cfg.input, cfg.dest, bool(cfg.overwrite))


if __name__ == "__main__":
    main()
