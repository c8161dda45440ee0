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

from siammask.evaluation.region import init_box_from_polygon, polygon_from_values
from siammask.evaluation.results import read_label_map, read_number_rows
from siammask.geometry import (
    check_box_xyxy,
    mask_to_box_xyxy,
    polygon_bounds_xyxy,
    polygon_from_box_xyxy,
    xyxy_to_xywh,
)
from siammask.tracking.io import header_size, image_files, read_image_rgb

BOX, MASK = "box", "mask"  # the two kinds of sequences: a target's regions, or a video's label maps


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
class BenchmarkDataset:
    """Sequence names plus a loader; ``load`` does all file reading and validation of one sequence."""

    name: str
    names: list[str]
    load: Callable[[str], BoxSequence | MaskSequence] = field(repr=False)


def _images_in(folder: Path) -> list[Path]:
    return image_files(folder) if folder.is_dir() else []


def _box_sequence(name: str, frame_paths: list[Path], rows: list[np.ndarray], source: str) -> BoxSequence:
    frames = ImageFiles(frame_paths, name)
    if len(rows) != len(frames):
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
        return _box_sequence(seq, [root / p for p in entry["img_names"]], rows, f"{json_path} [{seq}]")

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

    return BenchmarkDataset(name, list(box_names), load_box), BenchmarkDataset(name, mask_videos, load_masks)


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
    box, mask = custom_dataset(root, name)
    if not mask.names and MASK in kinds:
        raise ValueError(f"benchmark {name!r}: no video of {root} has a masks/ folder, which the DAVIS-style "
                         f"protocol scores: add masks or leave davis out of benchmark.protocols")
    return {BOX: box, MASK: mask}


def _read_synthetic(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    """``generator``: the videos (anything with ``sequence(video)``), or their config with a ``_target_``."""
    videos = cfg.get("generator")
    if videos is None:
        raise ValueError(f"benchmark {cfg['name']!r} reads synthetic videos but no generator was given")
    if isinstance(videos, Mapping):
        from hydra.utils import instantiate

        videos = instantiate(videos)
    box, mask = synthetic_datasets(videos, int(cfg["num_videos"]), cfg["name"])
    return {BOX: box, MASK: mask}


READERS: dict[str, Callable[[Mapping[str, Any], Collection[str]], dict[str, BenchmarkDataset]]] = {
    "vot": _read_vot, "otb": _read_otb, "davis": _read_davis, "ytvos": _read_ytvos, "custom": _read_custom,
    "synthetic": _read_synthetic}
"""A benchmark config's ``reader`` -> the datasets it offers (by sequence kind, :data:`BOX` / :data:`MASK`), given
the config and the kinds its protocols run on."""


def read_benchmark(cfg: Mapping[str, Any], kinds: Collection[str]) -> dict[str, BenchmarkDataset]:
    """The datasets of a benchmark config (``conf/benchmark/*.yaml``): its ``reader`` picks the layout."""
    reader = cfg["reader"]
    if reader not in READERS:
        raise ValueError(f"benchmark {cfg['name']!r}: unknown reader {reader!r}; known: {', '.join(READERS)}")
    return READERS[reader](cfg, kinds)
