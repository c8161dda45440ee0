"""Tile chosen frames of track.py's overlay video into one image (the README's stills).

    python track.py input=../shared/data/tennis bbox=[305,112,163,253] output_dir=out/tennis
    python scripts/overlay_stills.py video=out/tennis/overlay.mp4 frames=[10,35,69] out=docs/figures/tennis.png
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from siammask.command import command

log = logging.getLogger(__name__)


def read_frames(video: Path, indices: list[int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    frames, index = {}, 0
    while len(frames) < len(indices):
        ok, frame = capture.read()
        if not ok:
            raise ValueError(f"{video} has only {index} frames; asked for {sorted(indices)}")
        if index in indices:
            frames[index] = frame
        index += 1
    return [frames[i] for i in indices]


@command("overlay_stills")
def main(cfg: DictConfig) -> None:
    indices, width, out = [int(i) for i in cfg.frames], int(cfg.width), Path(cfg.out)
    tiles = []
    for index, frame in zip(indices, read_frames(Path(cfg.video), indices)):
        scale = width / frame.shape[1]
        tile = cv2.resize(frame, (width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, f"frame {index}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        tiles.append(tile)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.hstack(tiles))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
