"""Readers of the benchmark layouts, turning each into box sequences (VOT, OTB) or mask sequences (DAVIS, YouTube-VOS).

A :class:`BenchmarkDataset` lists sequence names cheaply and loads one sequence at a time, so a broken
sequence (missing annotation, unreadable frame, impossible first box) raises *its own* error, naming
the file and the sequence, while the benchmark loop records it and goes on with the others.

Frames are read lazily (RGB, HWC, uint8). Boxes and polygons are image pixels in edge coordinates.
Supported layouts:

* VOT release: ``<root>/list.txt``, ``<root>/<seq>/color/*.jpg`` (or ``<seq>/*.jpg``), ``<seq>/groundtruth.txt``
  with 8-value polygons or 4-value ``x,y,w,h`` rectangles; pysot: ``<root>/VOT2018.json`` with
  ``{seq: {img_names, gt_rect, ...}}`` and image paths relative to the root.
* OTB: ``<root>/<seq>/img/*.jpg`` + ``groundtruth_rect.txt`` (``groundtruth_rect.<k>.txt`` for several
  targets -> ``<seq>-<k>``), separators ``,`` / tab / space; pysot: ``<root>/OTB100.json``.
* DAVIS: ``JPEGImages/<res>/<seq>/*.jpg``, ``Annotations/<res>/<seq>/*.png``, ``ImageSets/<year>/<split>.txt``.
* YouTube-VOS: ``<root>/<split>/JPEGImages/<vid>/*.jpg``, ``Annotations/<vid>/<frame>.png`` (only frames where
  an object appears first), ``meta.json``.
* custom (docs/custom_data.md): ``<root>/<video>/<frame>.jpg``, ``masks/<frame>.png``, ``boxes.txt``, read by
  the same reader as ``prepare custom``; each object is a box sequence ``<video>-<object id>`` over the frames
  that annotate it, each video with masks a mask sequence over its frames with a mask file.
* VOT2020 short-term: ``<root>/list.txt``, ``<seq>/color/*.jpg`` (or the folder its ``sequence`` file names),
  ``<seq>/groundtruth.txt`` with a mask (``m<x>,<y>,<w>,<h>,<runs>``), rectangle or polygon per frame, and
  ``<seq>/anchor.value``; each target is an anchored sequence.
* LaSOT / LaSOT-ext, GOT-10k, TrackingNet, UAV123, NfS: their official layouts (docs/benchmarks_list.md), one
  reader each below.
* synthetic: any generator with ``sequence(video) -> (frames_rgb, boxes_xyxy (T, N, 4), masks (T, N, H, W))``.

:data:`READERS` maps a benchmark config's ``reader`` to the function that reads its layout; a new layout is a
reader function and an entry there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from siammask.evaluation.region import MaskRegion, init_box_from_polygon, polygon_from_values, rasterise
from siammask.evaluation.results import read_label_map, read_number_rows, read_region_lines
from siammask.evaluation.vot2020 import Anchor, anchors_from_values
from siammask.geometry import (
    check_box_xyxy,
    mask_to_box_xyxy,
    polygon_bounds_xyxy,
    polygon_from_box_xyxy,
    xyxy_to_xywh,
)
from siammask.tracking.io import header_size, image_files, read_image_rgb

BOX, MASK = "box", "mask"  # the two kinds of sequences: a target's regions, or a video's label maps
ANCHORED = "anchored"  # a target's masks and the anchor frames its runs start from (VOT2020 and later)


class SequenceFrames(Protocol):
    names: list[str]  # frame names without extension (used for result PNGs)

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...  # RGB HWC uint8


class ImageFiles:
    """Frames of one sequence on disk; an unreadable or differently sized frame raises naming the file."""

    def __init__(self, paths: list[Path], sequence: str) -> None:
        if not paths:
            raise FileNotFoundError(f"sequence {sequence!r}: no frames found")
        self.paths, self.sequence = [Path(p) for p in paths], sequence
        self.names = [p.stem for p in self.paths]
        self.image_hw = self._header_hw(self.paths[0])

    def _header_hw(self, path: Path) -> tuple[int, int]:
        try:
            width, height = header_size(path)
        except ValueError as err:
            raise OSError(f"sequence {self.sequence!r}: {err}") from err
        return height, width

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        path = self.paths[index]
        try:
            image = read_image_rgb(path)
        except ValueError as err:
            raise ValueError(f"sequence {self.sequence!r}: {err}") from err
        if image.shape[:2] != self.image_hw:
            raise ValueError(f"sequence {self.sequence!r}: frame {path} is {image.shape[1]}x{image.shape[0]}, "
                             f"the first frame is {self.image_hw[1]}x{self.image_hw[0]}")
        return image


class FrameArray:
    """Frames already in memory, (T, H, W, 3) RGB uint8 (synthetic videos)."""

    def __init__(self, frames_rgb: np.ndarray) -> None:
        self.frames = np.asarray(frames_rgb)
        self.names = [f"{i:05d}" for i in range(len(self.frames))]
        self.image_hw = tuple(self.frames.shape[1:3])

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frames[index]


@dataclass
class BoxSequence:
    """One target in one video with a region per frame (VOT, OTB, synthetic VOT-style)."""

    name: str
    frames: SequenceFrames
    gt_polygons: list[np.ndarray]  # (K, 2) per frame, image pixels; rectangles have K = 4
    image_hw: tuple[int, int]
    source: str  # the annotation file, for messages
    # (T,) bool: frames where the target is in view (LaSOT: neither fully occluded nor out of view; GOT-10k:
    # cover > 0); None: every frame. The protocols score hidden frames as their toolkits do.
    visible: np.ndarray | None = None
    attributes: tuple[str, ...] = ()  # the benchmark's attributes this sequence has (OTB-100, LaSOT, UAV123)
    category: str | None = None  # object class (LaSOT category, GOT-10k object_class): per-class results

    @property
    def fully_annotated(self) -> bool:
        """False for test splits that give only the first box (GOT-10k, TrackingNet): write, do not score."""
        return len(self.gt_polygons) == len(self.frames)

    @property
    def gt_boxes_xywh(self) -> np.ndarray:
        """(T, 4) axis-aligned bounds of the regions (exact for rectangles)."""
        return np.array([xyxy_to_xywh(polygon_bounds_xyxy(p)) for p in self.gt_polygons]).reshape(-1, 4)

    def init_box_xyxy(self, frame: int) -> np.ndarray:
        """The box a tracker is (re-)initialised with at ``frame``; an impossible box raises naming the file."""
        what = f"sequence {self.name!r}: ground truth of frame {frame} in {self.source}"
        try:
            box = init_box_from_polygon(self.gt_polygons[frame])
        except ValueError as err:
            raise ValueError(f"{what}: {err}") from err
        return check_box_xyxy(box, self.image_hw, what=what)


@dataclass
class MaskSequence:
    """Several objects in one video with label maps (DAVIS, YouTube-VOS, synthetic DAVIS-style)."""

    name: str
    frames: SequenceFrames
    labels: Sequence[np.ndarray | None]  # (H, W) uint8 object ids per frame; None where not annotated
    object_ids: list[int]
    start_frames: dict[int, int]  # object id -> frame of its first (given) mask
    image_hw: tuple[int, int]
    source: str
    merged: bool = False  # one object made of every labelled pixel (DAVIS 2016): results are binarised too

    def init_mask(self, obj: int) -> np.ndarray:
        """The given mask of ``obj`` at its start frame, (H, W) uint8 0/1."""
        frame = self.start_frames[obj]
        labels = self.labels[frame]
        mask = None if labels is None else (labels == obj).astype(np.uint8)
        if mask is None or not mask.any():
            raise ValueError(f"sequence {self.name!r}: object {obj} has no mask in its first frame "
                             f"{self.frames.names[frame]} ({self.source})")
        return mask


@dataclass
class AnchoredSequence:
    """One target of the VOT2020 anchor-based experiment: a mask region per frame (empty where the target is
    absent) and the anchors its runs start from (:mod:`siammask.evaluation.vot2020`)."""

    name: str
    frames: SequenceFrames
    gt_regions: list[MaskRegion]
    anchors: list[Anchor]
    image_hw: tuple[int, int]
    source: str  # the annotation file, for messages

    def init_mask(self, frame: int) -> np.ndarray:
        """The (H, W) uint8 0/1 ground truth a run starting at ``frame`` is initialised with."""
        mask = self.gt_regions[frame].full(self.image_hw)
        if not mask.any():
            raise ValueError(f"sequence {self.name!r}: anchor frame {frame} has an empty ground truth in "
                             f"{self.source}, so no run can start there")
        return mask.astype(np.uint8)


@dataclass
class BenchmarkDataset:
    """Sequence names plus a loader; ``load`` does all file reading and validation of one sequence."""

    name: str
    names: list[str]
    load: Callable[[str], BoxSequence | MaskSequence | AnchoredSequence] = field(repr=False)
    empty_reason: str | None = None  # why ``names`` is empty, when it may be (a report says it for the "-")


def _images_in(folder: Path) -> list[Path]:
    return image_files(folder) if folder.is_dir() else []


def _box_sequence(name: str, frame_paths: list[Path], rows: list[np.ndarray], source: str,
                  first_only: bool = False) -> BoxSequence:
    """``first_only``: the annotation may hold the first box alone (a test split scored by a server)."""
    frames = ImageFiles(frame_paths, name)
    if len(rows) != len(frames) and not (first_only and len(rows) == 1):
        raise ValueError(f"sequence {name!r}: {source} has {len(rows)} regions for {len(frames)} frames")
    polygons = []
    for i, row in enumerate(rows):
        try:
            polygons.append(polygon_from_values(row))
        except ValueError as err:
            raise ValueError(f"sequence {name!r}: {source} line {i + 1}: {err}") from err
    seq = BoxSequence(name, frames, polygons, frames.image_hw, source)
    seq.init_box_xyxy(0)
    return seq


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err


def _json_box_dataset(name: str, root: Path, json_path: Path) -> BenchmarkDataset:
    """pysot dataset JSON: ``{seq: {img_names: [...], gt_rect: [[...], ...], ...}}``, paths relative to ``root``."""
    meta = _read_json(json_path)

    def load(seq: str) -> BoxSequence:
        entry = meta[seq]
        missing = {"img_names", "gt_rect"} - set(entry)
        if missing:
            raise ValueError(f"sequence {seq!r}: {json_path} lacks {sorted(missing)}")
        rows = [np.asarray(r, dtype=np.float64).reshape(-1) for r in entry["gt_rect"]]
        out = _box_sequence(seq, [root / p for p in entry["img_names"]], rows, f"{json_path} [{seq}]")
        out.attributes = tuple(entry.get("attr", ()))  # pysot's OTB100.json lists each sequence's attributes
        return out

    return BenchmarkDataset(name, list(meta), load)


def vot_dataset(root: str | Path, json_name: str | None = None, name: str = "vot") -> BenchmarkDataset:
    """VOT release folder (``list.txt``) or the flat pysot layout (``<root>/<json_name>``, preferred if present)."""
    root = Path(root)
    if json_name and (root / json_name).is_file():
        return _json_box_dataset(name, root, root / json_name)
    list_file = root / "list.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"{name}: neither {list_file} nor {root / (json_name or '<dataset>.json')} exists")
    names = [line.strip() for line in list_file.read_text().splitlines() if line.strip()]

    def load(seq: str) -> BoxSequence:
        folder = root / seq
        frames = _images_in(folder / "color") or _images_in(folder)
        if not frames:
            raise FileNotFoundError(f"sequence {seq!r}: no frames in {folder / 'color'} or {folder}")
        gt = folder / "groundtruth.txt"
        return _box_sequence(seq, frames, read_number_rows(gt, seq), str(gt))

    return BenchmarkDataset(name, names, load)


def otb_dataset(root: str | Path, json_name: str | None = None, name: str = "otb") -> BenchmarkDataset:
    """OTB folders (``<seq>/img`` + ``groundtruth_rect*.txt``) or the pysot JSON (preferred if present).

    The folder layout needs one ground-truth line per image; the few OTB sequences whose annotation
    covers only part of ``img/`` (e.g. David, frames 300-770) need the pysot JSON, which lists the frames.
    """
    root = Path(root)
    if json_name and (root / json_name).is_file():
        return _json_box_dataset(name, root, root / json_name)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset folder {root} does not exist")
    targets: dict[str, tuple[Path, Path]] = {}
    for folder in sorted(p for p in root.iterdir() if (p / "img").is_dir()):
        gt_files = sorted(folder.glob("groundtruth_rect*.txt"))
        if len(gt_files) <= 1:
            targets[folder.name] = (folder, folder / "groundtruth_rect.txt")
        for gt in gt_files if len(gt_files) > 1 else []:
            targets[f"{folder.name}-{gt.stem.split('.')[-1]}"] = (folder, gt)
    if not targets:
        raise FileNotFoundError(f"{name}: no <seq>/img folders in {root} and no {json_name or 'dataset JSON'}")

    def load(seq: str) -> BoxSequence:
        folder, gt = targets[seq]
        return _box_sequence(seq, _images_in(folder / "img"), read_number_rows(gt, seq), str(gt))

    return BenchmarkDataset(name, list(targets), load)


def davis_dataset(root: str | Path, year: int = 2017, split: str = "val", resolution: str = "480p",
                  merge_objects: bool = False, void_label: int = 255, name: str = "davis") -> BenchmarkDataset:
    """DAVIS 2016 / 2017 semi-supervised sequences.

    Objects are the ids ``1 .. max`` of the first annotation (official evaluation); ``void_label`` pixels
    count as background. ``merge_objects`` makes every non-zero pixel one object, which is how the
    DAVIS 2016 single-object task is scored (SiamMask uses ``annotation > 0``).
    """
    root = Path(root)
    list_file = root / "ImageSets" / str(year) / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"{name}: sequence list {list_file} does not exist")
    names = [line.strip() for line in list_file.read_text().splitlines() if line.strip()]

    def load(seq: str) -> MaskSequence:
        frames = ImageFiles(_images_in(root / "JPEGImages" / resolution / seq), seq)
        anno_dir = root / "Annotations" / resolution / seq
        labels = [read_label_map(anno_dir / f"{frame}.png", seq, frames.image_hw) for frame in frames.names]
        if merge_objects:
            labels = [(lab > 0).astype(np.uint8) for lab in labels]
        else:
            labels = [np.where(lab == void_label, 0, lab).astype(np.uint8) for lab in labels]
        ids = list(range(1, int(labels[0].max()) + 1))
        if not ids:
            raise ValueError(f"sequence {seq!r}: the first annotation {anno_dir / frames.names[0]}.png has no object")
        return MaskSequence(seq, frames, labels, ids, {i: 0 for i in ids}, frames.image_hw, str(anno_dir),
                            merged=merge_objects)

    return BenchmarkDataset(name, names, load)


def ytvos_dataset(root: str | Path, split: str = "valid", name: str = "ytb_vos") -> BenchmarkDataset:
    """YouTube-VOS: objects start at the first frame listed for them in ``meta.json``."""
    base = Path(root) / split
    meta_path = base / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{name}: {meta_path} does not exist")
    meta = _read_json(meta_path).get("videos", {})

    def load(video: str) -> MaskSequence:
        frames = ImageFiles(_images_in(base / "JPEGImages" / video), video)
        anno_dir = base / "Annotations" / video
        labels = [read_label_map(anno_dir / f"{n}.png", video, frames.image_hw)
                  if (anno_dir / f"{n}.png").is_file() else None for n in frames.names]
        starts = {}
        for obj, info in meta[video].get("objects", {}).items():
            first = (info.get("frames") or [None])[0]
            if first not in frames.names:
                raise ValueError(f"sequence {video!r}: {meta_path} starts object {obj} at frame {first!r}, "
                                 f"which is not in {base / 'JPEGImages' / video}")
            starts[int(obj)] = frames.names.index(first)
        seq = MaskSequence(video, frames, labels, sorted(starts), starts, frames.image_hw, str(anno_dir))
        for obj in seq.object_ids:
            seq.init_mask(obj)
        return seq

    return BenchmarkDataset(name, list(meta), load)


def custom_dataset(root: str | Path, name: str = "custom") -> tuple[BenchmarkDataset, BenchmarkDataset]:
    """Users' own annotated videos as a box dataset (one sequence per object) and a mask dataset (one per video).

    Everything is checked before any tracking: a missing root, a folder without annotations, a box line or a
    mask that does not fit its frame raise naming the file, since a user's own set is small and fixable.
    """
    from siammask.datamodules.prepare import PrepareConfig  # the reader of prepare custom, not a copy of it
    from siammask.datamodules.readers.base import LayoutError, SkipFrame, read_label_png
    from siammask.datamodules.readers.custom import CustomReader

    root = Path(root).expanduser()
    reader = CustomReader(PrepareConfig(root=str(root), out="", frames_per_chunk=sys.maxsize))
    try:
        scan = reader.scan(root, "val")
    except LayoutError as err:
        raise FileNotFoundError(f"benchmark {name!r}: {err}") from err
    problems = [f"{video}: {skip.reason} {skip.file} {skip.detail}" for video, skip in scan.skips if skip.is_failure]
    if problems or not scan.jobs:
        found = "has annotation problems:\n  " + "\n  ".join(problems) if problems else "has no annotated frame"
        raise ValueError(f"benchmark {name!r}: {root} {found}\n(layout: docs/custom_data.md)")
    videos = {job.video: job.frames for job in scan.jobs}  # one chunk per video
    frame_hw = {video: _custom_frame_hw(video, frames, name) for video, frames in videos.items()}
    box_names: dict[str, tuple[str, int]] = {}
    for video, frames in videos.items():
        ids = {obj for frame in frames for obj in frame.annotation["boxes"]}
        for frame in frames:
            if frame.annotation["mask"] is not None:
                try:
                    ids.update(read_label_png(frame.annotation["mask"])[1])
                except SkipFrame as err:
                    raise ValueError(f"benchmark {name!r}: video {video!r}: {err}") from err
        box_names.update({f"{video}-{obj}": (video, obj) for obj in sorted(ids)})
    mask_videos = [v for v, frames in videos.items() if any(f.annotation["mask"] is not None for f in frames)]

    def annotated(video: str) -> list[tuple[Path, dict[int, np.ndarray], np.ndarray | None]]:
        """Per annotated frame: image path, object id -> box_xyxy, label map (None without a mask file)."""
        out = []
        for frame in videos[video]:
            annotations = reader.objects(frame, frame_hw[video])
            boxes = {a.object_id: a.box_xyxy if a.box_xyxy is not None else mask_to_box_xyxy(a.mask)
                     for a in annotations}
            labels = None
            if frame.annotation["mask"] is not None:
                labels = np.zeros(frame_hw[video], np.uint8)
                for a in annotations:
                    if a.mask is not None:
                        labels[a.mask > 0] = a.object_id
            out.append((Path(frame.image), boxes, labels))
        return out

    def load_box(seq: str) -> BoxSequence:
        video, obj = box_names[seq]
        frames = [(path, boxes[obj]) for path, boxes, _ in annotated(video) if obj in boxes]
        rows = [polygon_from_box_xyxy(box).reshape(-1) for _, box in frames]
        return _box_sequence(seq, [path for path, _ in frames], rows, f"{root / video} object {obj}")

    def load_masks(video: str) -> MaskSequence:
        masked = [(path, labels) for path, _, labels in annotated(video) if labels is not None]
        frames = ImageFiles([path for path, _ in masked], video)
        labels = [labels for _, labels in masked]
        starts: dict[int, int] = {}
        for index, label_map in enumerate(labels):
            for obj in np.unique(label_map[label_map > 0]).tolist():
                starts.setdefault(int(obj), index)
        return MaskSequence(video, frames, labels, sorted(starts), starts, frames.image_hw,
                            str(root / video / "masks"))

    no_masks = f"no annotated masks: no video of {root} has a masks/ folder (box-only videos)"
    return (BenchmarkDataset(name, list(box_names), load_box),
            BenchmarkDataset(name, mask_videos, load_masks, None if mask_videos else no_masks))


def _custom_frame_hw(video: str, frames: list, name: str) -> tuple[int, int]:
    """Frame size of a custom video; every frame and mask must have it (read from the files' headers)."""
    sizes = {frame.image: header_size(frame.image) for frame in frames}
    sizes.update({frame.annotation["mask"]: header_size(frame.annotation["mask"])
                  for frame in frames if frame.annotation["mask"] is not None})
    width, height = next(iter(sizes.values()))
    wrong = [f"{path} is {w}x{h}" for path, (w, h) in sizes.items() if (w, h) != (width, height)]
    if wrong:
        raise ValueError(f"benchmark {name!r}: video {video!r}: masks and frames disagree in size (the first "
                         f"frame is {width}x{height}): " + "; ".join(wrong[:5]))
    return height, width


class VideoGenerator(Protocol):
    def sequence(self, video: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def synthetic_datasets(videos: VideoGenerator, num_videos: int,
                       name: str = "synthetic") -> tuple[BenchmarkDataset, BenchmarkDataset]:
    """Held-out synthetic videos as a box dataset (one sequence per target) and a mask dataset (one per video).

    Label maps draw targets in order, so a later target covers an earlier one where their masks overlap.
    """
    generate = lru_cache(maxsize=1)(videos.sequence)

    def video_name(v: int) -> str:
        return f"video{v:03d}"

    def unpack(v: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frames, boxes, masks = generate(v)
        frames, boxes, masks = np.asarray(frames), np.asarray(boxes, np.float64), np.asarray(masks)
        if frames.ndim != 4 or boxes.shape[:1] != frames.shape[:1] or masks.shape[:2] != boxes.shape[:2]:
            raise ValueError(f"synthetic {video_name(v)}: inconsistent shapes frames {frames.shape}, "
                             f"boxes {boxes.shape}, masks {masks.shape}")
        return frames, boxes, masks

    num_targets = unpack(0)[1].shape[1] if num_videos else 0
    box_names = {f"{video_name(v)}_target{k + 1}": (v, k) for v in range(num_videos) for k in range(num_targets)}

    def load_box(seq: str) -> BoxSequence:
        v, k = box_names[seq]
        frames, boxes, _ = unpack(v)
        source = FrameArray(frames)
        out = BoxSequence(seq, source, [polygon_from_box_xyxy(b) for b in boxes[:, k]], source.image_hw,
                          f"synthetic {video_name(v)} target {k + 1}")
        out.init_box_xyxy(0)
        return out

    def load_masks(seq: str) -> MaskSequence:
        v = int(seq.removeprefix("video"))
        frames, _, masks = unpack(v)
        labels = np.zeros(masks.shape[:1] + masks.shape[2:], dtype=np.uint8)
        for k in range(masks.shape[1]):
            labels[masks[:, k] > 0] = k + 1
        ids = [int(i) for i in np.unique(labels[0]) if i > 0]
        source = FrameArray(frames)
        return MaskSequence(seq, source, list(labels), ids, {i: 0 for i in ids}, source.image_hw,
                            f"synthetic {seq}")

    return (BenchmarkDataset(name, list(box_names), load_box),
            BenchmarkDataset(name, [video_name(v) for v in range(num_videos)], load_masks))


def _flags(path: Path, sequence: str) -> np.ndarray:
    """A file of 0/1 (or other) numbers, on one comma-separated line or one per line (LaSOT's full_occlusion.txt /
    out_of_view.txt, GOT-10k's cover.label, the attribute files of LaSOT and UAV123), flattened."""
    rows = read_number_rows(path, sequence)
    return np.concatenate(rows) if rows else np.zeros(0)


def _per_frame(path: Path, sequence: str, num_frames: int) -> np.ndarray:
    values = _flags(path, sequence)
    if len(values) != num_frames:
        raise ValueError(f"sequence {sequence!r}: {path} has {len(values)} values for {num_frames} frames")
    return values


def _attributes(path: Path, names: Sequence[str], sequence: str) -> tuple[str, ...]:
    """The names whose flag is set in an attribute file (one 0/1 per attribute, in the order of ``names``)."""
    flags = _flags(path, sequence)
    if len(flags) != len(names):
        raise ValueError(f"sequence {sequence!r}: {path} has {len(flags)} attribute flags, the benchmark config "
                         f"names {len(names)} attributes ({', '.join(names)})")
    return tuple(n for n, flag in zip(names, flags) if flag > 0)


def _list_file(path: Path, name: str, layout: str) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{name}: the sequence list {path} does not exist (layout: {layout})")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


LASOT_LAYOUT = ("<root>/<category>/<category>-<n>/img/00000001.jpg, groundtruth.txt, full_occlusion.txt, "
                "out_of_view.txt; the test-split list <root>/testing_set.txt")


def lasot_dataset(root: str | Path, split_file: str | None = "testing_set.txt", attributes_dir: str | None = None,
                  attribute_names: Sequence[str] = (), name: str = "lasot") -> BenchmarkDataset:
    """LaSOT / LaSOT-extension: category folders of ``<category>-<n>`` sequences.

    A frame is visible unless ``full_occlusion.txt`` or ``out_of_view.txt`` flags it (the toolkits' "absent"
    frames); ``split_file`` (relative to ``root``) lists the test sequences, None takes every sequence found (the
    extension has only test sequences). ``attributes_dir`` holds ``<seq>.txt`` flags in ``attribute_names`` order.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset folder {root} does not exist (layout: {LASOT_LAYOUT})")
    if split_file:
        names = _list_file(root / split_file, name, LASOT_LAYOUT)
    else:
        names = sorted(seq.name for category in sorted(root.iterdir()) if category.is_dir()
                       for seq in category.iterdir() if (seq / "groundtruth.txt").is_file())
        if not names:
            raise FileNotFoundError(f"{name}: no <category>/<category>-<n>/groundtruth.txt under {root} "
                                    f"(layout: {LASOT_LAYOUT})")

    def load(seq: str) -> BoxSequence:
        category = seq.rsplit("-", 1)[0]
        folder = root / category / seq
        gt = folder / "groundtruth.txt"
        out = _box_sequence(seq, _images_in(folder / "img"), read_number_rows(gt, seq), str(gt))
        hidden = (_per_frame(folder / "full_occlusion.txt", seq, len(out.frames))
                  + _per_frame(folder / "out_of_view.txt", seq, len(out.frames)))
        out.visible, out.category = hidden == 0, category
        if attributes_dir:
            out.attributes = _attributes(root / attributes_dir / f"{seq}.txt", attribute_names, seq)
        return out

    return BenchmarkDataset(name, names, load)


GOT10K_LAYOUT = ("<root>/<split>/list.txt, <root>/<split>/<seq>/00000001.jpg, groundtruth.txt, meta_info.ini and "
                 "(val) cover.label, absence.label")


def got10k_dataset(root: str | Path, split: str = "val", first_box_only: bool = False,
                   name: str = "got10k") -> BenchmarkDataset:
    """GOT-10k ``val`` / ``test`` (``root`` is the unpacked folder holding ``<split>/``, or the split folder itself).

    A frame is visible where ``cover.label`` > 0, as the toolkit scores it (``absence.label`` marks the frames of
    cover 0, so it adds nothing); ``meta_info.ini``'s ``object_class`` is the class of the per-class results.
    ``first_box_only``: the test split, whose ``groundtruth.txt`` holds the first box alone.
    """
    root = Path(root)
    base = root / split if (root / split / "list.txt").is_file() else root
    if not (base / "list.txt").is_file():
        raise FileNotFoundError(f"{name}: neither {root / split / 'list.txt'} nor {root / 'list.txt'} exists "
                                f"(layout: {GOT10K_LAYOUT})")
    names = _list_file(base / "list.txt", name, GOT10K_LAYOUT)

    def load(seq: str) -> BoxSequence:
        folder = base / seq
        gt = folder / "groundtruth.txt"
        out = _box_sequence(seq, _images_in(folder), read_number_rows(gt, seq), str(gt), first_box_only)
        if out.fully_annotated:
            out.visible = _per_frame(folder / "cover.label", seq, len(out.frames)) > 0
        out.category = _ini_values(folder / "meta_info.ini").get("object_class")
        return out

    return BenchmarkDataset(name, names, load)


def _ini_values(path: Path) -> dict[str, str]:
    """``key: value`` lines of GOT-10k's meta_info.ini (empty if the file is absent: the class is optional)."""
    if not path.is_file():
        return {}
    pairs = (line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


TRACKINGNET_LAYOUT = "<root>/<split>/anno/<seq>.txt, <root>/<split>/frames/<seq>/0.jpg, 1.jpg, ..."


def trackingnet_dataset(root: str | Path, split: str = "TEST", first_box_only: bool = True,
                        name: str = "trackingnet") -> BenchmarkDataset:
    """TrackingNet ``TEST`` (first box only: the server scores it) or a ``TRAIN_<k>`` chunk (every box given).

    Frames are numbered without padding, so they are ordered by number, not by name."""
    base = Path(root) / split
    anno, frames_dir = base / "anno", base / "frames"
    missing = [str(p) for p in (anno, frames_dir) if not p.is_dir()]
    if missing:
        raise FileNotFoundError(f"{name}: missing {', '.join(missing)} (layout: {TRACKINGNET_LAYOUT})")
    names = sorted(p.stem for p in anno.glob("*.txt"))
    if not names:
        raise FileNotFoundError(f"{name}: no <seq>.txt in {anno} (layout: {TRACKINGNET_LAYOUT})")

    def load(seq: str) -> BoxSequence:
        frames = [p for p in _images_in(frames_dir / seq) if p.stem.isdigit()]
        gt = anno / f"{seq}.txt"
        return _box_sequence(seq, sorted(frames, key=lambda p: int(p.stem)), read_number_rows(gt, seq), str(gt),
                             first_box_only)

    return BenchmarkDataset(name, names, load)


UAV123_LAYOUT = "<root>/data_seq/<subset>/<video>/000001.jpg, <root>/anno/<subset>/<seq>.txt, anno/<subset>/att/"


def uav123_dataset(root: str | Path, subset: str = "UAV123", frame_ranges: str | None = None,
                   attribute_names: Sequence[str] = (), name: str = "uav123") -> BenchmarkDataset:
    """UAV123 / UAV20L: an annotation per sequence, frames of its video folder (``NaN`` rows: target absent).

    Several sequences are parts of one longer video (``bird1_1``, ``bird1_2`` in ``bird1/``); their frame
    ranges come from the toolkit (``configSeqs.m``), given as ``frame_ranges``: a JSON file of
    ``{seq: {start_frame, end_frame, folder_name}}`` (optionally under the subset's name, as the ``got10k``
    package's ``uav123.json``). Attributes: ``anno/<subset>/att/<seq>.txt``, flags in ``attribute_names`` order.
    """
    root = Path(root)
    anno, data = root / "anno" / subset, root / "data_seq" / subset
    missing = [str(p) for p in (anno, data) if not p.is_dir()]
    if missing:
        raise FileNotFoundError(f"{name}: missing {', '.join(missing)} (layout: {UAV123_LAYOUT})")
    names = sorted(p.stem for p in anno.glob("*.txt"))
    ranges: dict[str, Any] = {}
    if frame_ranges:
        ranges = _read_json(Path(frame_ranges))
        ranges = ranges.get(subset, ranges)

    def load(seq: str) -> BoxSequence:
        gt = anno / f"{seq}.txt"
        rows = read_number_rows(gt, seq)
        if seq in ranges:
            folder, first = data / ranges[seq]["folder_name"], int(ranges[seq]["start_frame"])
        elif (data / seq).is_dir():
            folder, first = data / seq, 1
        else:
            raise FileNotFoundError(f"sequence {seq!r}: no folder {data / seq}; a part of a longer video needs its "
                                    f"frame range: give benchmark.frame_ranges=<json> (see docs/benchmarks_list.md)")
        paths = [folder / f"{first + i:06d}.jpg" for i in range(len(rows))]
        absent = [p for p in paths if not p.is_file()]
        if absent:
            raise FileNotFoundError(f"sequence {seq!r}: {len(absent)} of its {len(paths)} frames are missing, "
                                    f"the first {absent[0]}")
        out = _box_sequence(seq, paths, rows, str(gt))
        if attribute_names:
            out.attributes = _attributes(anno / "att" / f"{seq}.txt", attribute_names, seq)
        return out

    return BenchmarkDataset(name, names, load)


NFS_LAYOUT = "<root>/<seq>/<fps>/<seq>.txt, <root>/<seq>/<fps>/<seq>/00001.jpg"
NFS_RATE_RATIO = 8  # NfS annotates at 240 fps: the 30 fps frames are every 8th annotation (Kiani Galoogahi 2017)


def nfs_dataset(root: str | Path, fps: int = 30, name: str = "nfs30") -> BenchmarkDataset:
    """Need for Speed: ``<seq>.txt`` lines ``id xmin ymin xmax ymax frame lost occluded generated "label"``.

    The 30 fps folders keep the 240 fps annotation, so every 8th line is the one of a 30 fps frame; a one-frame
    difference between frames and boxes is cut off, as the got10k toolkit reads the layout."""
    root = Path(root)
    annotations = sorted(root.glob(f"*/{fps}/*.txt"))
    if not annotations:
        raise FileNotFoundError(f"{name}: no <seq>/{fps}/<seq>.txt under {root} (layout: {NFS_LAYOUT})")
    paths = {p.stem: p for p in annotations}

    def load(seq: str) -> BoxSequence:
        gt = paths[seq]
        frames = _images_in(gt.parent / seq)
        rows = []
        for number, line in enumerate(gt.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                x0, y0, x1, y1 = (float(v) for v in fields[1:5])
            except ValueError as err:
                raise ValueError(f"sequence {seq!r}: {gt} line {number} has no xmin ymin xmax ymax: {line!r}") from err
            rows.append(np.array([x0, y0, x1 - x0, y1 - y0]))
        if frames and len(rows) != len(frames) and abs(len(rows) / len(frames) - NFS_RATE_RATIO) < 1:
            rows = rows[::NFS_RATE_RATIO]
        if abs(len(rows) - len(frames)) == 1:
            rows, frames = rows[:min(len(rows), len(frames))], frames[:min(len(rows), len(frames))]
        return _box_sequence(seq, frames, rows, str(gt))

    return BenchmarkDataset(name, list(paths), load)


VOT2020_LAYOUT = ("<root>/list.txt, <root>/<seq>/color/00000001.jpg (or the channels.color folder of <seq>/sequence), "
                  "<seq>/groundtruth.txt (one m<x>,<y>,<w>,<h>,<runs> mask, rectangle or polygon a line), "
                  "<seq>/anchor.value (one number a line)")


def _channel_folder(folder: Path) -> Path:
    """The colour frames' folder: ``channels.color`` of the sequence's ``sequence`` file (a folder or a file
    pattern such as ``color/%08d.jpg``), ``color/`` without one, as the toolkit reads it."""
    properties = folder / "sequence"
    if properties.is_file():
        pairs = (line.split("=", 1) for line in properties.read_text().splitlines() if "=" in line)
        channel = {key.strip(): value.strip() for key, value in pairs}.get("channels.color")
        if channel:
            path = folder / channel
            return path if channel.endswith(("/", "\\")) or path.is_dir() else path.parent
    return folder / "color"


def _anchor_values(path: Path, sequence: str, num_frames: int) -> np.ndarray:
    """``anchor.value``: one number a line; a shorter file is padded with 0 (no anchor) as the toolkit pads it."""
    rows = read_number_rows(path, sequence)
    if len(rows) > num_frames or any(row.size != 1 for row in rows):
        raise ValueError(f"sequence {sequence!r}: {path} must hold one number a line, at most one per frame "
                         f"({num_frames}), got {len(rows)} lines")
    values = np.zeros(num_frames)
    values[:len(rows)] = [row[0] for row in rows]
    return values


def vot2020_dataset(root: str | Path, name: str = "vot2020") -> BenchmarkDataset:
    """The VOT2020 short-term release (and the later VOT-ST stacks in the same layout); ground-truth rectangles and
    polygons are rasterised to masks (:func:`siammask.evaluation.region.rasterise`)."""
    root = Path(root)
    names = _list_file(root / "list.txt", name, VOT2020_LAYOUT)

    def load(seq: str) -> AnchoredSequence:
        folder = root / seq
        channel = _channel_folder(folder)
        paths = _images_in(channel)
        if not paths:
            raise FileNotFoundError(f"sequence {seq!r}: no frames in {channel} (layout: {VOT2020_LAYOUT})")
        frames = ImageFiles(paths, seq)
        gt = folder / "groundtruth.txt"
        regions = [rasterise(r, frames.image_hw) for r in read_region_lines(gt, seq, len(frames))]
        anchor_file = folder / "anchor.value"
        anchors = anchors_from_values(_anchor_values(anchor_file, seq, len(frames)))
        if not anchors:
            raise ValueError(f"sequence {seq!r}: {anchor_file} marks no anchor frame")
        return AnchoredSequence(seq, frames, regions, anchors, frames.image_hw, str(gt))

    return BenchmarkDataset(name, names, load)


def _root(cfg: Mapping[str, Any]) -> str:
    """The dataset folder the readers of files need."""
    if cfg.get("root") is None:
        raise ValueError(f"benchmark {cfg['name']!r}: the {cfg['reader']!r} reader needs "
                         "benchmark.root=<dataset folder>")
    return str(cfg["root"])


def _read_vot(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: vot_dataset(_root(cfg), cfg.get("json_name"), cfg["name"])}


def _read_otb(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: otb_dataset(_root(cfg), cfg.get("json_name"), cfg["name"])}


def _read_davis(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {MASK: davis_dataset(_root(cfg), int(cfg["year"]), cfg.get("split", "val"),
                                cfg.get("resolution", "480p"), bool(cfg.get("merge_objects", False)),
                                name=cfg["name"])}


def _read_ytvos(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {MASK: ytvos_dataset(_root(cfg), cfg.get("split", "valid"), cfg["name"])}


def _read_custom(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    root, name = _root(cfg), cfg["name"]
    box, mask = custom_dataset(root, name)  # box-only videos: the DAVIS-style protocol scores nothing and says why
    return {BOX: box, MASK: mask}


def _read_synthetic(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    """``generator``: the videos (anything with ``sequence(video)``), or their config with a ``_target_``."""
    if cfg.get("root") is not None:
        raise ValueError(f"benchmark {cfg['name']!r} generates its videos and reads no folder, so benchmark.root="
                         f"{cfg['root']} has no use here: score your own videos with benchmark=custom "
                         f"benchmark.root=<folder> (docs/custom_data.md), a public set with its benchmark "
                         f"(e.g. benchmark=vot2018, davis2017; conf/benchmark)")
    videos = cfg.get("generator")
    if videos is None:
        raise ValueError(f"benchmark {cfg['name']!r} reads synthetic videos but no generator was given")
    if isinstance(videos, Mapping):
        from hydra.utils import instantiate

        videos = instantiate(videos)
    box, mask = synthetic_datasets(videos, int(cfg["num_videos"]), cfg["name"])
    return {BOX: box, MASK: mask}


def _read_vot2020(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {ANCHORED: vot2020_dataset(_root(cfg), cfg["name"])}


def _read_lasot(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: lasot_dataset(_root(cfg), cfg.get("split_file"), cfg.get("attributes_dir"),
                               list(cfg.get("attribute_names") or ()), cfg["name"])}


def _read_got10k(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: got10k_dataset(_root(cfg), cfg.get("split", "val"), bool(cfg.get("first_box_only", False)),
                                cfg["name"])}


def _read_trackingnet(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: trackingnet_dataset(_root(cfg), cfg.get("split", "TEST"), bool(cfg.get("first_box_only", True)),
                                     cfg["name"])}


def _read_uav123(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: uav123_dataset(_root(cfg), cfg.get("subset", "UAV123"), cfg.get("frame_ranges"),
                                list(cfg.get("attribute_names") or ()), cfg["name"])}


def _read_nfs(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    return {BOX: nfs_dataset(_root(cfg), int(cfg.get("fps", 30)), cfg["name"])}


READERS: dict[str, Callable[[Mapping[str, Any], Collection[str]], dict[str, BenchmarkDataset]]] = {
    "vot": _read_vot, "vot2020": _read_vot2020, "otb": _read_otb, "davis": _read_davis, "ytvos": _read_ytvos, "custom": _read_custom,
    "synthetic": _read_synthetic, "lasot": _read_lasot, "got10k": _read_got10k, "trackingnet": _read_trackingnet,
    "uav123": _read_uav123, "nfs": _read_nfs}
"""A benchmark config's ``reader`` -> the datasets it offers (by sequence kind, :data:`BOX` / :data:`MASK`), given
the config and the kinds its protocols run on."""


def read_benchmark(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    """The datasets of a benchmark config (``conf/benchmark/*.yaml``): its ``reader`` picks the layout."""
    reader = cfg["reader"]
    if reader not in READERS:
        raise ValueError(f"benchmark {cfg['name']!r}: unknown reader {reader!r}; known: {', '.join(READERS)}")
    return READERS[reader](cfg, kinds)
