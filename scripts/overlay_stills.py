"""Tile chosen frames of track.py's overlay video into one image (the README's stills).

    python track.py input=../shared/data/tennis bbox=[305,112,163,253] output_dir=out/tennis
    python scripts/overlay_stills.py out/tennis/overlay.mp4 --frames 10 35 69 --out docs/figures/tennis.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--frames", type=int, nargs="+", required=True)
    parser.add_argument("--width", type=int, default=420, help="width of each tile, pixels")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tiles = []
    for index, frame in zip(args.frames, read_frames(args.video, args.frames)):
        scale = args.width / frame.shape[1]
        tile = cv2.resize(frame, (args.width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, f"frame {index}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        tiles.append(tile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.hstack(tiles))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
