"""Users' own videos in one simple layout (documented in docs/custom_data.md).

```
<root>/<video>/<frame>.jpg|.jpeg|.png   frames, in file-name order (zero-pad the numbers)
<root>/<video>/masks/<frame>.png        optional: object-id masks (palette index or grey level = object id;
                                        a 0/255 mask is object 1)
<root>/<video>/boxes.txt                optional: "frame,object_id,x,y,w,h" per line; frame = file stem,
                                        x,y = top-left corner, w,h = size, image pixels; '#' starts a comment
```
A frame's objects are the ids in its mask (boxes.txt, when it has the object, gives its box; else the
mask's tight box) and, box-only, the ids boxes.txt gives for the frame that its mask does not show.

The reader serves ``prepare custom`` (training stores) and ``eval.py benchmark=custom``
(:mod:`siammask.evaluation.datasets`); :func:`write_custom_video` writes the layout (worked example,
``siammask.datamodules.from_tracks``).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from siammask.evaluation.results import write_label_map
from siammask.geometry import xywh_to_xyxy

from .base import (
    BAD_ANNOTATION,
    EMPTY_VIDEO,
    MISSING_ANNOTATION,
    UNANNOTATED,
    DatasetReader,
    FrameJob,
    LayoutError,
    ObjectAnnotation,
    Scan,
    Skip,
    SkipFrame,
    chunked,
    frame_number,
    read_label_png,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MASK_DIR = "masks"
BOX_FILE = "boxes.txt"
BOX_FIELDS = ("frame", "object_id", "x", "y", "w", "h")


class CustomReader(DatasetReader):
    name = "custom"
    has_masks = True  # per frame: frames without a mask file are box-only

    def scan(self, root: Path, split: str) -> Scan:
        if not root.is_dir():
            raise LayoutError(f"custom dataset root not found: {root}\nexpected layout: {__doc__}")
        video_dirs = sorted(p for p in root.iterdir() if p.is_dir())
        if not video_dirs:
            raise LayoutError(f"custom dataset root {root} holds no video folder\nexpected layout: {__doc__}")
        held_out = set(self.settings.val_videos)
        unknown = held_out - {p.name for p in video_dirs}
        if unknown:
            raise LayoutError(f"val_videos {sorted(unknown)}: no such video folder in {root}")
        if held_out:
            video_dirs = [p for p in video_dirs if (p.name in held_out) == (split == "val")]
        scan = Scan(filtered=Counter())
        for video_dir in video_dirs:
            self._scan_video(video_dir, scan)
        return scan

    def _scan_video(self, video_dir: Path, scan: Scan) -> None:
        video = video_dir.name
        images = sorted(p for p in video_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            scan.skips.append((video, Skip(EMPTY_VIDEO, str(video_dir), "folder holds no jpg/png frame")))
            return
        mask_dir, box_file = video_dir / MASK_DIR, video_dir / BOX_FILE
        if not mask_dir.is_dir() and not box_file.is_file():
            scan.skips.append((video, Skip(MISSING_ANNOTATION, str(video_dir),
                                           f"neither {MASK_DIR}/ nor {BOX_FILE} found")))
            return
        stems = {p.stem for p in images}
        boxes = _read_boxes(box_file, stems, video, scan) if box_file.is_file() else {}
        for orphan in sorted(set(mask_dir.glob("*.png")) - {mask_dir / f"{s}.png" for s in stems}):
            scan.skips.append((video, Skip(BAD_ANNOTATION, str(orphan), "mask without a frame of the same name "
                                                                        f"in {video_dir}")))
        frames = []
        for position, image in enumerate(images):
            mask = mask_dir / f"{image.stem}.png"
            frame_boxes = boxes.get(image.stem, {})
            if not mask.is_file() and not frame_boxes:
                scan.filtered[UNANNOTATED] += 1
                continue
            frames.append(FrameJob(frame_number(image.stem, position), str(image),
                                   {"mask": str(mask) if mask.is_file() else None, "boxes": frame_boxes}))
        scan.jobs.extend(chunked(video, frames, self.settings.frames_per_chunk))

    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        boxes = {obj: xywh_to_xyxy(np.asarray(xywh, dtype=np.float64))
                 for obj, xywh in frame.annotation["boxes"].items()}
        mask_path = frame.annotation["mask"]
        if mask_path is None:
            return [ObjectAnnotation(obj, box) for obj, box in sorted(boxes.items())]
        labels, ids = read_label_png(mask_path)
        if labels.shape != tuple(image_hw):
            raise SkipFrame(Skip(BAD_ANNOTATION, mask_path,
                                 f"mask is {labels.shape[1]}x{labels.shape[0]}, "
                                 f"image {image_hw[1]}x{image_hw[0]}"))
        found: list[ObjectAnnotation | Skip] = [ObjectAnnotation(obj, boxes.get(obj), (labels == obj).astype(np.uint8))
                                                for obj in ids]
        return found + [ObjectAnnotation(obj, boxes[obj]) for obj in sorted(set(boxes) - set(ids))]


def _read_boxes(path: Path, stems: set[str], video: str, scan: Scan) -> dict[str, dict[int, list[float]]]:
    """``{frame stem: {object id: [x, y, w, h]}}``; each bad line becomes a listed failure."""
    boxes: dict[str, dict[int, list[float]]] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = [f.strip() for f in text.split(",")]
        where = f"{path}:{number}"
        try:
            if len(fields) != len(BOX_FIELDS):
                raise ValueError(f"{len(fields)} fields, expected {len(BOX_FIELDS)}: {','.join(BOX_FIELDS)}")
            stem, obj, xywh = fields[0], int(fields[1]), [float(v) for v in fields[2:]]
            if stem not in stems:
                raise ValueError(f"no frame file named {stem}.* in the video folder")
            if obj in boxes.get(stem, {}):
                raise ValueError(f"object {obj} appears twice in frame {stem}")
        except ValueError as error:
            scan.skips.append((video, Skip(BAD_ANNOTATION, where, str(error))))
            continue
        boxes.setdefault(stem, {})[obj] = xywh
    return boxes


def write_custom_video(video_dir: str | Path, frames: Iterable[np.ndarray | Path],
                       labels: Mapping[int, np.ndarray] | None = None,
                       boxes_xywh: Mapping[int, Mapping[int, Sequence[float]]] | None = None,
                       jpeg_quality: int = 95) -> Path:
    """One video in the custom layout: frames ``00000.jpg`` ... (RGB HWC uint8 arrays are JPEG-encoded; image
    files are copied with their suffix), ``masks/<frame>.png`` palette PNGs of object ids for the frame indices
    in ``labels``, ``boxes.txt`` from ``boxes_xywh`` (frame index -> object id -> x, y, w, h in image pixels).
    """
    video_dir = Path(video_dir)
    video_dir.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        if isinstance(frame, np.ndarray):
            cv2.imwrite(str(video_dir / f"{stem(index)}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        else:
            shutil.copyfile(frame, video_dir / f"{stem(index)}{Path(frame).suffix.lower()}")
    for index, label_map in (labels or {}).items():
        write_label_map(video_dir / MASK_DIR / f"{stem(index)}.png", label_map)
    if boxes_xywh:
        lines = ["# " + ",".join(BOX_FIELDS)]
        lines += [f"{stem(index)},{obj}," + ",".join(f"{v:g}" for v in xywh)
                  for index, objects in sorted(boxes_xywh.items()) for obj, xywh in sorted(objects.items())]
        (video_dir / BOX_FILE).write_text("\n".join(lines) + "\n")
    return video_dir


def stem(index: int) -> str:
    """File stem of frame ``index`` in written videos: zero-padded, so file-name order is time order."""
    return f"{index:05d}"
