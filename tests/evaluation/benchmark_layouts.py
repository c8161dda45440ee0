"""Tiny folders in the official layouts of LaSOT, GOT-10k, TrackingNet, UAV123 and NfS (nothing downloaded).

Every sequence's ground truth is :func:`evaluation_fakes.moving_box` (a 10x8 box moving right a pixel per frame)
unless a test gives its own boxes; frames are 40x50 JPEGs, as the datasets ship them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from evaluation_fakes import moving_box, write_frames

HW = (40, 50)  # frame height, width


def boxes_text(boxes_xywh: Sequence[Sequence[float]]) -> str:
    return "".join(",".join(f"{v:g}" for v in box) + "\n" for box in boxes_xywh)


def default_boxes(n: int) -> np.ndarray:
    return np.array([moving_box(f) for f in range(n)], dtype=np.float64)


def make_lasot(root: Path, boxes: Mapping[str, np.ndarray], hidden: Mapping[str, Sequence[int]] | None = None,
               attributes: Mapping[str, Sequence[int]] | None = None, split: Sequence[str] | None = None) -> Path:
    """``<category>/<category>-<n>/{img, groundtruth.txt, full_occlusion.txt, out_of_view.txt}``; ``hidden`` frames
    alternate between the two flag files; ``split`` writes testing_set.txt; ``attributes`` writes att/<seq>.txt."""
    for seq, seq_boxes in boxes.items():
        folder = root / seq.rsplit("-", 1)[0] / seq
        write_frames(folder / "img", len(seq_boxes), HW, suffix=".jpg")
        (folder / "groundtruth.txt").write_text(boxes_text(seq_boxes))
        occluded, out_of_view = np.zeros(len(seq_boxes), int), np.zeros(len(seq_boxes), int)
        for i, f in enumerate((hidden or {}).get(seq, ())):
            (occluded if i % 2 == 0 else out_of_view)[f] = 1
        (folder / "full_occlusion.txt").write_text(",".join(map(str, occluded)) + "\n")
        (folder / "out_of_view.txt").write_text(",".join(map(str, out_of_view)) + "\n")
    for seq, flags in (attributes or {}).items():
        (root / "att").mkdir(parents=True, exist_ok=True)
        (root / "att" / f"{seq}.txt").write_text(",".join(map(str, flags)) + "\n")
    if split is not None:
        (root / "testing_set.txt").write_text("".join(f"{s}\n" for s in split))
    return root


def make_got10k(root: Path, split: str, boxes: Mapping[str, np.ndarray], classes: Mapping[str, str],
                covers: Mapping[str, Sequence[int]] | None = None, first_only: bool = False) -> Path:
    """``<split>/list.txt``, ``<split>/<seq>/{00000001.jpg, groundtruth.txt, meta_info.ini, *.label}``."""
    base = root / split
    base.mkdir(parents=True, exist_ok=True)
    (base / "list.txt").write_text("".join(f"{s}\n" for s in boxes))
    for seq, seq_boxes in boxes.items():
        folder = base / seq
        write_frames(folder, len(seq_boxes), HW, suffix=".jpg")
        (folder / "groundtruth.txt").write_text(boxes_text(seq_boxes[:1] if first_only else seq_boxes))
        (folder / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: {classes[seq]}\n"
                                              f"resolution: ({HW[1]}, {HW[0]})\n")
        if not first_only:
            cover = np.asarray((covers or {}).get(seq, [8] * len(seq_boxes)))
            (folder / "cover.label").write_text("".join(f"{c}\n" for c in cover))
            (folder / "absence.label").write_text("".join(f"{int(c == 0)}\n" for c in cover))
            (folder / "cut_by_image.label").write_text("".join("0\n" for _ in cover))
    return root


def make_trackingnet(root: Path, split: str, boxes: Mapping[str, np.ndarray], first_only: bool) -> Path:
    """``<split>/anno/<seq>.txt`` and ``<split>/frames/<seq>/0.jpg, 1.jpg, ...`` (numbers without padding)."""
    for seq, seq_boxes in boxes.items():
        (root / split / "anno").mkdir(parents=True, exist_ok=True)
        (root / split / "anno" / f"{seq}.txt").write_text(boxes_text(seq_boxes[:1] if first_only else seq_boxes))
        write_frames(root / split / "frames" / seq, len(seq_boxes), HW, suffix=".jpg", start=0, digits=1)
    return root


def make_uav123(root: Path, boxes: Mapping[str, np.ndarray], parts: Mapping[str, tuple[str, int]] | None = None,
                attributes: Mapping[str, Sequence[int]] | None = None) -> Path:
    """``data_seq/UAV123/<video>/000001.jpg``, ``anno/UAV123/<seq>.txt`` (NaN rows allowed), ``anno/UAV123/att``;
    ``parts``: seq -> (video folder, first frame) for parts of a longer video, written to ``frame_ranges.json``."""
    anno = root / "anno" / "UAV123"
    anno.mkdir(parents=True, exist_ok=True)
    ranges = {}
    for seq, seq_boxes in boxes.items():
        (anno / f"{seq}.txt").write_text(boxes_text(seq_boxes))
        video, first = (parts or {}).get(seq, (seq, 1))
        folder = root / "data_seq" / "UAV123" / video
        write_frames(folder, len(seq_boxes), HW, suffix=".jpg", start=first, digits=6)
        if seq in (parts or {}):
            ranges[seq] = {"start_frame": first, "end_frame": first + len(seq_boxes) - 1, "folder_name": video}
    for seq, flags in (attributes or {}).items():
        (anno / "att").mkdir(exist_ok=True)
        (anno / "att" / f"{seq}.txt").write_text(",".join(map(str, flags)) + "\n")
    (root / "frame_ranges.json").write_text(json.dumps({"UAV123": ranges}))
    return root


def make_nfs(root: Path, boxes: Mapping[str, np.ndarray]) -> Path:
    """``<seq>/30/<seq>/00001.jpg`` and ``<seq>/30/<seq>.txt`` annotated at 240 fps (8 lines per 30 fps frame:
    the 30 fps frame's box, then 7 in-between boxes shifted by a pixel that a reader must skip)."""
    for seq, seq_boxes in boxes.items():
        folder = root / seq / "30"
        write_frames(folder / seq, len(seq_boxes), HW, suffix=".jpg", start=1, digits=5)
        lines = []
        for f, (x, y, w, h) in enumerate(seq_boxes):
            for k in range(8):
                shift = 0 if k == 0 else 1
                lines.append(f'1 {x + shift:g} {y:g} {x + shift + w:g} {y + h:g} {8 * f + k} 0 0 0 "person"')
        (folder / f"{seq}.txt").write_text("\n".join(lines) + "\n")
    return root
