"""TrackingNet (Müller et al., ECCV 2018) training set: the chunks ``TRAIN_0`` ... ``TRAIN_11``, 30132 videos.

Every chunk found under the root is read (a partial download of some chunks is fine). TrackingNet labels no
absence: a frame is visible when its box has a positive size (pytracking's training reader). Frame ``n`` of a
video is ``frames/<video>/<n>.jpg``, numbered from 0, boxed by line ``n + 1`` of ``anno/<video>.txt``. The test
chunk gives the first box only, so it cannot be prepared.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .base import MISSING_IMAGE, LayoutError, Scan, Skip, require
from .single_target import SingleTargetReader, UnusableVideo, read_boxes_xywh, require_folder

LAYOUT = """<root> = the TrackingNet folder:
<root>/TRAIN_<i>/anno/<video>.txt          x,y,w,h per frame
<root>/TRAIN_<i>/frames/<video>/0.jpg ...  frames (extracted from TRAIN_<i>/zips/<video>.zip)"""
CHUNK_PREFIX = "TRAIN_"


def training_chunks(root: Path) -> list[Path]:
    """The ``TRAIN_<i>`` folders under ``root``, by ``i``."""
    chunks = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHUNK_PREFIX)
              and p.name.removeprefix(CHUNK_PREFIX).isdigit()]
    return sorted(chunks, key=lambda p: int(p.name.removeprefix(CHUNK_PREFIX)))


class TrackingNetReader(SingleTargetReader):
    name = "trackingnet"

    def scan(self, root: Path, split: str) -> Scan:
        if split != "train":
            raise LayoutError(f"TrackingNet has training chunks and a test chunk, no split={split}: prepare "
                              "split=train (validate on GOT-10k val, dataset=got10k split=val)")
        require_folder(root, "TrackingNet folder", LAYOUT)
        chunks = training_chunks(root)
        if not chunks:
            raise LayoutError(f"no TrackingNet training chunk {CHUNK_PREFIX}<i> under {root}\n"
                              f"expected layout:\n{LAYOUT}")
        scan = Scan(filtered=Counter())
        for chunk in chunks:
            annotations = require(chunk / "anno", f"TrackingNet {chunk.name} box folder", LAYOUT)
            frames = require(chunk / "frames", f"TrackingNet {chunk.name} frame folder (extract the videos of "
                                               f"{chunk / 'zips'} into it)", LAYOUT)
            for box_file in sorted(annotations.glob("*.txt")):
                video = f"{chunk.name}/{box_file.stem}"
                folder = frames / box_file.stem
                try:
                    if not folder.is_dir():
                        raise UnusableVideo(Skip(MISSING_IMAGE, str(folder), "frame folder not found"))
                    boxes = read_boxes_xywh(box_file)
                except UnusableVideo as unusable:
                    scan.skips.append((video, unusable.skip))
                    continue
                numbers = range(len(boxes))
                self.add_video(scan, video, [str(folder / f"{n}.jpg") for n in numbers], numbers, boxes,
                               hidden=np.zeros(len(boxes), dtype=bool))
        return scan
