"""Crop official datasets into a SiamMask LMDB store (check one with ``siammask.datamodules.check_store``).

    python -m siammask.datamodules.prepare dataset=<coco|ytb_vos|vid|det|got10k|lasot|trackingnet|custom>
                                  root=<dataset root> out=<lmdb dir> [split=train|val] [workers=N]
                                  [overwrite=true] [resume=false] [key=value: any setting of conf/prepare.yaml]

Every annotated object of every frame becomes one 511x511 crop centred on it, at the scale the
exemplar is cut at (the release's ``data/*/par_crop.py``): the SiamFC context square
``sqrt((w + p)(h + p))``, ``p = 0.5 (w + h)``, enlarged by 511 / 127, padded with the image's mean
colour, cut by :class:`siammask.geometry.CropWindow` so box and mask follow the crop exactly. The
store is written to ``<out>.partial`` by parallel workers and renamed to ``<out>`` when complete;
running the same command again after a crash resumes. Bad files are skipped, counted and listed in
the printed summary and in ``<out>/prepare_summary.json``. See docs/datasets.md.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from siammask.command import command
from siammask.crop import PAPER_CROP
from siammask.geometry import CropWindow, mask_to_box_xyxy, mean_colour
from siammask.progress import Progress

from .lmdb_store import (
    SUMMARY_NAME,
    TRACK_FIELDS,
    ChunkMeta,
    StoreError,
    StoreIndex,
    StoreWriter,
    check_output,
    chunk_key,
    encode_record,
)
from .readers import READERS, DatasetReader, LayoutError
from .readers.base import (
    BAD_ANNOTATION,
    BAD_IMAGE,
    BOX_OUTSIDE,
    EMPTY_MASK,
    MISSING_IMAGE,
    NO_OBJECTS,
    SMALL_MASK,
    TRUNCATED_IMAGE,
    UNEXPECTED,
    ZERO_AREA,
    ChunkJob,
    ObjectAnnotation,
    Scan,
    Skip,
    SkipFrame,
)

SPLITS = ("train", "val")
TRACK_GAPS = ("keep", "split", "release")
SUMMARY_LINES = 20  # failures printed; the JSON summary lists all
PROGRESS_EVERY_S = 30.0  # a progress line this often when the output is not a terminal (a log file)
JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"  # start / end of image markers (ITU T.81, B.1.1.3)
log = logging.getLogger(__name__)


@dataclass
class PrepareConfig:
    """Command-line settings (``key=value``); the crop values are the release's."""

    root: str = MISSING
    out: str = MISSING
    split: str = "train"
    workers: int = 0  # worker processes; 0 = one per CPU core
    resume: bool = True  # continue an interrupted build found at <out>.partial (false: start it again)
    overwrite: bool = False  # replace a complete store at <out> (only once the new one is complete)
    out_size: int = 511  # stored crop side: release data/*/par_crop.py "crop511"
    # The crop is at exemplar scale (side = context size * out_size / exemplar_size), with the SiamFC context of
    # conf/crop/paper.yaml (release par_crop.py); the pair sampler refuses a store cut otherwise.
    exemplar_size: int = PAPER_CROP.exemplar_size
    context_amount: float = PAPER_CROP.context_amount
    jpeg_quality: int = 95  # OpenCV's default, what the release's cv2.imwrite stored
    png_compression: int = 1  # zlib level of mask PNGs: level 1 decodes ~4x faster than OpenCV's 3 (measured)
    # Crop pixel is object where the bilinearly resampled 0/1 mask (float) exceeds this, as the release's
    # data/*/par_crop.py: COCO 0.5; YouTube-VOS 0.2 (its reader's default), which keeps more of the mask edge
    # (~0.3 source pixels on a straight edge). 0.5 keeps the resampled area unbiased; the paper trained on 0.2.
    mask_threshold: float = 0.5
    min_mask_pixels: int = 0  # smaller masks (image pixels) are filtered out; YouTube-VOS: 1000 (release)
    ytb_val_from: int = 3000  # YouTube-VOS: meta.json videos from here on are split=val (release)
    # COCO: keep crowd annotations (iscrowd=1, a region over a group of objects) as objects, as the release's
    # data/coco/gen_json.py and par_crop.py do (getAnnIds(iscrowd=None): all annotations). false leaves them out:
    # a crowd region is no single object to track, and its box spans the group.
    keep_crowd: bool = True
    # Video tracks with frames missing (the object unannotated or left out in between), per TRACK_GAPS:
    # keep = one track across gaps; split = a track per run of consecutive frames (runs of one frame dropped);
    # release = split, then only the last run of each object, as the release's data/vid/gen_json.py stores them
    # (every run under the same track key, each overwriting the one before). VID's reader default is release.
    track_gaps: str = "keep"
    # custom: video folders held out for validation: split=train leaves them out, split=val takes only them
    # (empty: every video in either split)
    val_videos: list[str] = field(default_factory=list)
    frames_per_chunk: int = 64  # frames of one video per unit of parallel work and of resume
    map_size: int = 1 << 40  # LMDB address space (bytes); the file only grows with the data


# --------------------------------------------------------------------------------------- per-object crop


def read_image(path: str) -> np.ndarray:
    """HWC uint8 BGR pixels as stored (EXIF orientation ignored, as annotations were made on them)."""
    if not os.path.isfile(path):
        raise SkipFrame(Skip(MISSING_IMAGE, path, "image file not found"))
    data = np.fromfile(path, dtype=np.uint8)
    if _truncated_jpeg(data.tobytes()):
        # libjpeg decodes the part it has (grey below) and only warns "Premature end of JPEG file".
        raise SkipFrame(Skip(TRUNCATED_IMAGE, path, "the JPEG ends before its end-of-image marker (truncated)"))
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise SkipFrame(Skip(BAD_IMAGE, path, "OpenCV cannot decode the image"))
    return image


def _truncated_jpeg(data: bytes) -> bool:
    """A JPEG stream whose end-of-image marker is missing; trailing zero padding (some cameras) is allowed."""
    return data.startswith(JPEG_SOI) and not data.rstrip(b"\0").endswith(JPEG_EOI)


def crop_object(image_bgr: np.ndarray, pad_bgr: Sequence[float], obj: ObjectAnnotation, cfg: PrepareConfig,
                where: str) -> tuple[bytes, np.ndarray, np.ndarray, bool] | Skip:
    """(record, box_xyxy crop px, box_xyxy image px, has_mask) of one object, or why it is left out."""
    h, w = image_bgr.shape[:2]
    what = f"object {obj.object_id}"
    mask = obj.mask
    if mask is not None:
        if mask.shape != (h, w):
            return Skip(BAD_ANNOTATION, where, f"{what}: mask {mask.shape} does not match the image {(h, w)}")
        pixels = cv2.countNonZero(mask)
        if pixels == 0:
            return Skip(EMPTY_MASK, where, f"{what}: the mask has no pixel")
        if pixels < cfg.min_mask_pixels:
            return Skip(SMALL_MASK, where,
                        f"{what}: {pixels} mask pixels < min_mask_pixels={cfg.min_mask_pixels}")
    if obj.box_xyxy is None:
        if mask is None:
            return Skip(BAD_ANNOTATION, where, f"{what}: neither a box nor a mask")
        box_xyxy = mask_to_box_xyxy(mask)
    else:
        box_xyxy = np.asarray(obj.box_xyxy, dtype=np.float64).reshape(-1)
    if box_xyxy.shape != (4,) or not np.all(np.isfinite(box_xyxy)):
        return Skip(BAD_ANNOTATION, where, f"{what}: box {box_xyxy.tolist()} is not 4 finite numbers")
    if box_xyxy[2] <= box_xyxy[0] or box_xyxy[3] <= box_xyxy[1]:
        return Skip(ZERO_AREA, where, f"{what}: box xyxy={box_xyxy.tolist()} has zero or negative size")
    clipped = np.clip(box_xyxy, 0, [w, h, w, h])
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        return Skip(BOX_OUTSIDE, where,
                    f"{what}: box xyxy={box_xyxy.tolist()} lies outside the {w}x{h} image")
    window = CropWindow.around_box(clipped, cfg.out_size, cfg.context_amount,
                                   scale_to_exemplar=cfg.out_size / cfg.exemplar_size)
    crop = window.crop(image_bgr, tuple(pad_bgr))
    mask_crop = None
    if mask is not None:
        resampled = window.crop(mask.astype(np.float32), 0.0)
        mask_crop = (resampled > cfg.mask_threshold).astype(np.uint8)
    box_crop = window.box_to_crop(clipped)
    record = encode_record(crop, box_crop, mask_crop, cfg.jpeg_quality, cfg.png_compression)
    return record, box_crop, clipped, mask is not None


def prepare_chunk(job: ChunkJob, reader: DatasetReader, cfg: PrepareConfig) -> tuple[ChunkMeta, list[bytes]]:
    """Crop every object of a chunk; never raises for bad data (it lands in ``meta.failures``)."""
    meta = ChunkMeta(job.video)
    filtered: Counter = Counter()
    records: list[bytes] = []
    tracks: dict[int, dict[str, Any]] = {}

    def leave_out(skip: Skip) -> None:
        if skip.is_failure:
            meta.failures.append(skip.as_dict(job.video))
        else:
            filtered[skip.reason] += 1

    for frame in job.frames:
        try:
            image = read_image(frame.image)
            objects = reader.objects(frame, image.shape[:2])
        except SkipFrame as skip:
            leave_out(skip.skip)
            continue
        except Exception as error:  # noqa: BLE001 - a reader bug or an input nobody foresaw: list it, keep going
            leave_out(Skip(UNEXPECTED, frame.image, repr(error)))
            continue
        if not objects:
            filtered[NO_OBJECTS] += 1
            continue
        pad = mean_colour(image)
        for obj in objects:
            if isinstance(obj, Skip):
                leave_out(obj)
                continue
            try:
                result = crop_object(image, pad, obj, cfg, frame.image)
            except Exception as error:  # noqa: BLE001 - as above: one object listed, the others kept
                result = Skip(UNEXPECTED, frame.image, f"object {obj.object_id}: {error!r}")
            if isinstance(result, Skip):
                leave_out(result)
                continue
            record, box_crop, box_image, has_mask = result
            track = tracks.setdefault(obj.object_id, _new_track(obj.object_id))
            track["frames"].append(int(frame.number))
            track["records"].append(len(records))
            track["box_xyxy_crop"].append([round(float(v), 4) for v in box_crop])
            track["box_xyxy_image"].append([round(float(v), 4) for v in box_image])
            track["image_hw"].append([int(v) for v in image.shape[:2]])
            track["has_mask"].append(bool(has_mask))
            records.append(record)
    meta.tracks = list(tracks.values())
    meta.filtered = dict(filtered)
    return meta, records


# ------------------------------------------------------------------------------------------ the build

_WORKER_STATE: tuple[DatasetReader, PrepareConfig] | None = None


def _init_worker(reader: DatasetReader, cfg: PrepareConfig) -> None:
    global _WORKER_STATE
    _WORKER_STATE = (reader, cfg)
    cv2.setNumThreads(1)  # the parallelism is across processes


def _run_job(job: ChunkJob) -> tuple[bytes, ChunkMeta, list[bytes]]:
    assert _WORKER_STATE is not None, "a prepare job ran in a process _init_worker did not set up"
    reader, cfg = _WORKER_STATE
    return (chunk_key(job.video, job.chunk), *prepare_chunk(job, reader, cfg))


def _results(jobs: list[ChunkJob], reader: DatasetReader, cfg: PrepareConfig,
             workers: int) -> Iterator[tuple[bytes, ChunkMeta, list[bytes]]]:
    if workers <= 1:
        _init_worker(reader, cfg)
        yield from map(_run_job, jobs)
        return
    # spawn, not fork: a forked child inherits OpenCV's thread-pool locks in whatever state the parent's
    # threads held them, and its first cv2.setNumThreads can then wait forever (seen here)
    with mp.get_context("spawn").Pool(workers, _init_worker, (reader, cfg)) as pool:
        yield from pool.imap_unordered(_run_job, jobs)


def resolve_config(dataset: str, overrides: Sequence[str] | dict[str, Any] = ()) -> PrepareConfig:
    """Settings for ``dataset``: defaults, then the dataset's own defaults, then ``overrides``."""
    if dataset not in READERS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(READERS)}")
    if isinstance(overrides, dict):
        cli = OmegaConf.create(dict(overrides))
    else:
        cli = OmegaConf.from_dotlist(list(overrides))
    try:
        merged = OmegaConf.merge(OmegaConf.structured(PrepareConfig), READERS[dataset].defaults, cli)
        cfg = cast(PrepareConfig, OmegaConf.to_object(merged))
    except OmegaConfBaseException as error:
        raise ValueError(f"bad prepare setting: {error}") from error
    if cfg.split not in SPLITS:
        raise ValueError(f"split={cfg.split!r}: choose one of {SPLITS}")
    if not 0 < cfg.exemplar_size <= cfg.out_size:
        raise ValueError(f"exemplar_size={cfg.exemplar_size} must be in (0, out_size={cfg.out_size}]")
    if cfg.track_gaps not in TRACK_GAPS:
        raise ValueError(f"track_gaps={cfg.track_gaps!r}: choose one of {TRACK_GAPS}")
    if cfg.track_gaps != "keep" and READERS[dataset].still_images:
        raise ValueError(f"track_gaps={cfg.track_gaps!r} cuts video tracks; {dataset} has one-frame tracks: "
                         "leave it at keep")
    return cfg


def prepare(dataset: str, cfg: PrepareConfig) -> dict[str, Any]:
    """Build (or resume) the store of ``dataset`` and return the summary (also printed and saved)."""
    started = time.monotonic()
    root = Path(cfg.root).expanduser().resolve()
    out = Path(cfg.out).expanduser().resolve()
    check_output(out, cfg.overwrite)
    reader = READERS[dataset](cfg)
    scan = reader.scan(root, cfg.split)
    if not scan.jobs:
        listed = "; ".join(f"{v}: {s.reason} {s.file}" for v, s in scan.skips[:SUMMARY_LINES])
        raise LayoutError(f"nothing to prepare for {dataset} split={cfg.split} under {root} "
                          f"(filtered {dict(scan.filtered)}; failures: {listed or 'none'})")
    run_only = ("root", "out", "workers", "resume", "overwrite")  # settings that do not change the store
    settings = {"dataset": dataset, "root": str(root),
                **{k: v for k, v in asdict(cfg).items() if k not in run_only}}
    writer = StoreWriter(out, settings, resume=cfg.resume, overwrite=cfg.overwrite, map_size=cfg.map_size)
    keys = [chunk_key(job.video, job.chunk) for job in scan.jobs]
    todo = [job for job, key in zip(scan.jobs, keys) if key not in writer.done_chunks]
    resumed = len(keys) - len(todo)
    workers = cfg.workers or os.cpu_count() or 1
    try:
        with Progress(len(keys), f"prepare {dataset}/{cfg.split}", "chunks", initial=resumed,
                      every_s=PROGRESS_EVERY_S) as progress:
            for key, meta, records in _results(todo, reader, cfg, workers):
                writer.add_chunk(key, meta, records)
                progress.update()
    except BaseException:
        writer.close()
        log.warning("interrupted: the chunks done so far are kept in %s; run the same command again to resume",
                    writer.partial)
        raise
    metas = writer.read_chunks(keys)
    index = _build_index(metas, cfg.track_gaps)
    summary = _summary(dataset, cfg.split, root, out, scan, metas, index, resumed, time.monotonic() - started)
    if index.num_tracks == 0:
        writer.close()
        (writer.partial / SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
        print_summary(summary)
        raise StoreError(f"no object of {dataset} split={cfg.split} under {root} could be prepared; "
                         f"see {writer.partial / SUMMARY_NAME}")
    header = {"dataset": dataset, "split": cfg.split, "root": str(root),
              "has_masks": bool(index.frame_has_mask.any()),
              "crop": {"out_size": cfg.out_size, "exemplar_size": cfg.exemplar_size,
                       "context_amount": cfg.context_amount},
              "encoding": {"image": "jpeg", "jpeg_quality": cfg.jpeg_quality, "mask": "png"},
              "settings": settings, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "counts": {k: summary[k] for k in ("videos", "tracks", "frames", "masks")}}
    writer.publish(header, index, summary)
    print_summary(summary)
    return summary


def _build_index(metas: Sequence[ChunkMeta], track_gaps: str) -> StoreIndex:
    """Merge chunks (in video, chunk order) into tracks: one per object id per video, frames in time order, then
    cut at gaps as ``track_gaps`` says (:data:`TRACK_GAPS`)."""
    videos: dict[str, dict[int, dict[str, Any]]] = {}
    for meta in metas:
        tracks = videos.setdefault(meta.video, {})
        for track in meta.tracks:
            merged = tracks.setdefault(track["object"], _new_track(track["object"]))
            for key in TRACK_FIELDS:
                merged[key].extend(track[key])
    return StoreIndex.from_videos((name, [run for track in tracks.values() for run in _cut_at_gaps(track, track_gaps)])
                                  for name, tracks in videos.items())


def _cut_at_gaps(track: dict[str, Any], track_gaps: str) -> list[dict[str, Any]]:
    """``track`` as one track (keep), or its runs of consecutive frame numbers of two frames or more (split), or
    the last of those (release: data/vid/gen_json.py's np.split at np.diff > 1, isolated frames removed)."""
    if track_gaps == "keep":
        return [track]
    frames = np.asarray(track["frames"])
    starts = [0, *(np.flatnonzero(np.diff(frames) > 1) + 1).tolist(), len(frames)]
    runs = [{"object": track["object"], **{key: track[key][a:b] for key in TRACK_FIELDS}}
            for a, b in pairwise(starts) if b - a > 1]
    return runs[-1:] if track_gaps == "release" else runs


def _new_track(object_id: int) -> dict[str, Any]:
    return {"object": int(object_id), **{key: [] for key in TRACK_FIELDS}}


def _summary(dataset: str, split: str, root: Path, out: Path, scan: Scan, metas: Sequence[ChunkMeta],
             index: StoreIndex, resumed: int, seconds: float) -> dict[str, Any]:
    failures = [skip.as_dict(video) for video, skip in scan.skips if skip.is_failure]
    filtered = Counter(scan.filtered) + Counter(s.reason for _, s in scan.skips if not s.is_failure)
    for meta in metas:
        failures.extend(meta.failures)
        filtered.update(meta.filtered)
    return {
        "dataset": dataset, "split": split, "root": str(root), "out": str(out),
        "videos_listed": len({job.video for job in scan.jobs} | {video for video, _ in scan.skips}),
        "videos": index.num_videos, "tracks": index.num_tracks, "frames": index.num_frames,
        "masks": int(index.frame_has_mask.sum()),
        "failures_by_reason": dict(Counter(f["reason"] for f in failures)),
        "filtered_by_reason": dict(filtered),
        "failures": failures,
        "chunks": len(metas), "chunks_resumed": resumed, "seconds": round(seconds, 2),
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"prepared {summary['dataset']}/{summary['split']} from {summary['root']} -> {summary['out']}")
    print(f"  videos {summary['videos']} (of {summary['videos_listed']} listed), tracks {summary['tracks']}, "
          f"frames {summary['frames']} ({summary['masks']} with masks), {summary['chunks']} chunks "
          f"({summary['chunks_resumed']} resumed), {summary['seconds']} s")
    if summary["filtered_by_reason"]:
        filtered = sorted(summary["filtered_by_reason"].items())
        print("  filtered: " + ", ".join(f"{k} {v}" for k, v in filtered))
    failures = summary["failures"]
    print(f"  failures: {len(failures)}" + (" (" + ", ".join(
        f"{k} {v}" for k, v in sorted(summary["failures_by_reason"].items())) + ")" if failures else ""))
    for failure in failures[:SUMMARY_LINES]:
        print(f"    {failure['reason']:<20} {failure['file']}  {failure['detail']}")
    if len(failures) > SUMMARY_LINES:
        print(f"    ... all {len(failures)} in {Path(summary['out']) / SUMMARY_NAME}")


# ------------------------------------------------------------------------------------------------ CLI

ENTRY_KEYS = ("task_name", "dataset", "paths")  # conf/prepare.yaml keys that are not PrepareConfig settings


@command("prepare")
def main(cfg: DictConfig) -> None:
    """conf/prepare.yaml: the settings given (not null) override the defaults, as in :func:`resolve_config`."""
    settings = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))
    given = {k: v for k, v in settings.items() if k not in ENTRY_KEYS and v is not None}
    prepare(cfg.dataset, resolve_config(cfg.dataset, given))


if __name__ == "__main__":
    main()
