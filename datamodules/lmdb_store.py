"""The on-disk format of prepared training data: one LMDB environment of 511x511 context crops.

Why LMDB: training reads two random crops per sample out of millions; a memory-mapped lookup costs
less than opening one small file per crop (``scripts/benchmark_lmdb.py`` measures both), does not
strain the file system, and the store copies to a cluster as one file.

Layout of one store (all keys ASCII):

- ``__siammask__``: JSON header ``{"magic": "siammask", "format_version": 1, "dataset", "split",
  "has_masks", "crop": {...}, ...}``. Written last, so a store without it is unfinished or foreign.
- ``__index__``: the index, an ``.npz`` blob of flat numpy arrays (videos -> tracks -> frames, CSR style,
  see :class:`StoreIndex`); loaded once per process without pickle.
- ``r0000000042``: one record per (object, frame): box + JPEG crop + optional PNG mask
  (:func:`encode_record`).
- ``m/<video>#<chunk>``: JSON description of one prepared chunk of a video (its records, boxes and the
  failures met). These double as the progress log that makes an interrupted ``prepare`` resumable.
- ``__prepare__``: JSON of the settings the store is built with (resuming an unfinished one refuses others).

A store is built in ``<out>.partial`` by :class:`StoreWriter` and renamed to ``<out>`` only when complete.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import lmdb
import numpy as np

MAGIC = "siammask"
FORMAT_VERSION = 1
MAGIC_KEY = b"__siammask__"
INDEX_KEY = b"__index__"
SETTINGS_KEY = b"__prepare__"
CHUNK_PREFIX = b"m/"
RECORD_PREFIX = b"r"
SUMMARY_NAME = "prepare_summary.json"
PARTIAL_SUFFIX = ".partial"
DEFAULT_MAP_SIZE = 1 << 40  # address space only: LMDB files grow with the data on Linux/macOS

# record = header (box xyxy crop px as 4 float32, JPEG length, mask PNG length; 0 = no mask) + JPEG + PNG
_RECORD_HEADER = struct.Struct("<4fII")


class StoreError(ValueError):
    """A path that is not a usable SiamMask store (missing, foreign, unfinished, inconsistent)."""


def record_key(record: int) -> bytes:
    return RECORD_PREFIX + b"%010d" % record


def chunk_key(video: str, chunk: int) -> bytes:
    return CHUNK_PREFIX + f"{video}#{chunk:06d}".encode()


# ----------------------------------------------------------------------------------------------- records


def encode_record(crop_bgr: np.ndarray, box_xyxy_crop: Sequence[float] | np.ndarray, mask: np.ndarray | None,
                  jpeg_quality: int, png_compression: int) -> bytes:
    """Pack one crop: ``crop_bgr`` HWC uint8 BGR, box in crop pixels, ``mask`` HW {0,1} uint8 or None."""
    ok, jpeg = cv2.imencode(".jpg", crop_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a crop of shape {crop_bgr.shape}")
    png = b""
    if mask is not None:
        ok, png_arr = cv2.imencode(".png", mask, [cv2.IMWRITE_PNG_COMPRESSION, int(png_compression)])
        if not ok:
            raise ValueError(f"PNG encoding failed for a mask of shape {mask.shape}")
        png = png_arr.tobytes()
    jpeg_bytes = jpeg.tobytes()
    header = _RECORD_HEADER.pack(*(float(v) for v in box_xyxy_crop), len(jpeg_bytes), len(png))
    return header + jpeg_bytes + png


def split_record(buffer: bytes | memoryview) -> tuple[np.ndarray, memoryview, memoryview | None]:
    """A record's parts, undecoded: (box_xyxy crop px, JPEG bytes, PNG bytes or None)."""
    view = memoryview(buffer)
    if len(view) < _RECORD_HEADER.size:
        raise StoreError(f"record of {len(view)} bytes is shorter than its {_RECORD_HEADER.size}-byte header")
    *box, n_jpeg, n_png = _RECORD_HEADER.unpack_from(view)
    start = _RECORD_HEADER.size
    if start + n_jpeg + n_png != len(view):
        raise StoreError(f"record length {len(view)} does not match its header "
                         f"(JPEG {n_jpeg} + PNG {n_png} bytes)")
    png = view[start + n_jpeg:] if n_png else None
    return np.asarray(box, dtype=np.float64), view[start:start + n_jpeg], png


def decode_record(buffer: bytes | memoryview) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Unpack a record into (image HWC uint8 RGB, box_xyxy float64 crop px, mask HW uint8 {0,1} or None)."""
    box, jpeg, png = split_record(buffer)
    image_bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image_bgr is None:
        raise StoreError("record holds a JPEG that does not decode")
    mask = None
    if png is not None:
        mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise StoreError("record holds a mask PNG that does not decode")
    return cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), box, mask


# ------------------------------------------------------------------------------------------------- index

# A track while it is built (ChunkMeta, StoreIndex.from_videos): {"object": id} plus these per-frame lists:
# frame numbers, record numbers, box xyxy crop px, box xyxy image px, image (h, w), has mask.
TRACK_FIELDS = ("frames", "records", "box_xyxy_crop", "box_xyxy_image", "image_hw", "has_mask")

@dataclass(frozen=True)
class StoreIndex:
    """Videos -> tracks -> frames as flat arrays: compact, picklable, loaded without pickle."""

    video_names: np.ndarray  # (V,) str, e.g. "train2017/000000000139"
    track_video: np.ndarray  # (T,) int32, video of each track
    track_object: np.ndarray  # (T,) int64, object id in the annotation (COCO ann id, VID trackid, mask id)
    track_start: np.ndarray  # (T + 1,) int64, frames of track t are [track_start[t], track_start[t + 1])
    frame_number: np.ndarray  # (F,) int64, frame number in the original video (time order within a track)
    frame_record: np.ndarray  # (F,) int64, record number (key: record_key)
    frame_box_xyxy: np.ndarray  # (F, 4) float32, box in crop pixels
    frame_image_box_xyxy: np.ndarray  # (F, 4) float32, box in original image pixels (statistics)
    frame_image_hw: np.ndarray  # (F, 2) int32, original image height, width
    frame_has_mask: np.ndarray  # (F,) bool

    @property
    def num_videos(self) -> int:
        return len(self.video_names)

    @property
    def num_tracks(self) -> int:
        return len(self.track_video)

    @property
    def num_frames(self) -> int:
        return len(self.frame_record)

    def track_lengths(self) -> np.ndarray:
        return np.diff(self.track_start)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **{f.name: getattr(self, f.name) for f in fields(self)})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> StoreIndex:
        names = [f.name for f in fields(cls)]
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            missing = set(names) - set(arrays.files)
            if missing:
                raise StoreError(f"index lacks the arrays {sorted(missing)}")
            return cls(**{name: arrays[name] for name in names})

    @classmethod
    def from_videos(cls, videos: Iterable[tuple[str, list[dict[str, Any]]]]) -> StoreIndex:
        """Build from ``(video name, tracks)``, a track: ``{"object": id}`` + the ``TRACK_FIELDS`` lists."""
        names: list[str] = []
        track_video: list[int] = []
        track_object: list[int] = []
        starts = [0]
        per_frame: dict[str, list] = {k: [] for k in TRACK_FIELDS}
        for name, tracks in videos:
            if not tracks:
                continue
            names.append(name)
            for track in tracks:
                track_video.append(len(names) - 1)
                track_object.append(track["object"])
                for key, values in per_frame.items():
                    values.extend(track[key])
                starts.append(len(per_frame["records"]))
        return cls(
            video_names=np.array(names, dtype=str),
            track_video=np.array(track_video, dtype=np.int32),
            track_object=np.array(track_object, dtype=np.int64),
            track_start=np.array(starts, dtype=np.int64),
            frame_number=np.array(per_frame["frames"], dtype=np.int64),
            frame_record=np.array(per_frame["records"], dtype=np.int64),
            frame_box_xyxy=np.array(per_frame["box_xyxy_crop"], dtype=np.float32).reshape(-1, 4),
            frame_image_box_xyxy=np.array(per_frame["box_xyxy_image"], dtype=np.float32).reshape(-1, 4),
            frame_image_hw=np.array(per_frame["image_hw"], dtype=np.int32).reshape(-1, 2),
            frame_has_mask=np.array(per_frame["has_mask"], dtype=bool),
        )

    def validate(self, crop_size: int) -> None:
        """Raise :class:`StoreError` naming the first inconsistency (shapes, offsets, boxes)."""
        t, f, v = self.num_tracks, self.num_frames, self.num_videos
        shapes = {"track_object": (t,), "track_start": (t + 1,), "frame_number": (f,),
                  "frame_box_xyxy": (f, 4), "frame_image_box_xyxy": (f, 4), "frame_image_hw": (f, 2),
                  "frame_has_mask": (f,)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise StoreError(f"index array {name} has shape {getattr(self, name).shape}, "
                                 f"expected {shape}")
        if self.track_start[0] != 0 or self.track_start[-1] != f or np.any(np.diff(self.track_start) < 1):
            raise StoreError("index track offsets do not increase from 0 to the frame count (empty track?)")
        if t and (self.track_video.min() < 0 or self.track_video.max() >= v):
            raise StoreError(f"index refers to videos outside 0..{v - 1}")
        if len(np.unique(self.frame_record)) != f:
            raise StoreError("index lists the same record twice")
        box = self.frame_box_xyxy
        if f and (not np.all(np.isfinite(box)) or np.any(box[:, 2:] <= box[:, :2])
                  or box.min() < 0 or box.max() > crop_size):
            raise StoreError(f"index holds crop boxes that are empty, not finite or outside the "
                             f"{crop_size} crop")


# ------------------------------------------------------------------------------------------- reading


def is_store(path: str | Path) -> bool:
    """True when ``path`` is a complete SiamMask store (magic record present)."""
    try:
        read_header(path)
    except StoreError:
        return False
    return True


_OPEN_ENVS: dict[str, tuple[tuple[int, int], lmdb.Environment]] = {}  # realpath -> ((pid, inode), handle)


def open_env(path: str | Path) -> lmdb.Environment:
    """This process's read-only, lock-free handle on the store at ``path`` (opened once, shared).

    py-lmdb refuses to open one environment twice in a process, and LMDB forbids using a handle
    across ``fork``; so every reader in a process shares one handle, and a process that inherited
    one through fork closes it (read-only without a lock file: that touches no shared state) and
    opens its own. A store replaced on disk (new data file) gets a new handle.
    """
    path = Path(path)
    if not path.is_dir():
        partial = Path(f"{path}{PARTIAL_SUFFIX}")
        hint = f" (an unfinished prepare left {partial})" if partial.exists() else ""
        raise StoreError(f"no SiamMask LMDB store at {path}: not a directory{hint}")
    data = path / "data.mdb"
    if not data.is_file():
        raise StoreError(f"{path} is not an LMDB environment (no data.mdb)")
    key = os.path.realpath(path)
    identity = (os.getpid(), data.stat().st_ino)
    cached = _OPEN_ENVS.get(key)
    if cached is not None:
        if cached[0] == identity:
            return cached[1]
        cached[1].close()
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False,
                        max_readers=2048)
    except lmdb.Error as error:
        raise StoreError(f"cannot open the LMDB at {path}: {error}") from error
    _OPEN_ENVS[key] = (identity, env)
    return env


def release_env(path: str | Path) -> None:
    """Close this process's shared handle on ``path`` (before writing to or replacing that store)."""
    cached = _OPEN_ENVS.pop(os.path.realpath(path), None)
    if cached is not None:
        cached[1].close()


def read_header(path: str | Path) -> dict[str, Any]:
    """The store's header, after checking the magic and the format version."""
    with open_env(path).begin() as txn:
        raw = txn.get(MAGIC_KEY)
        unfinished = txn.get(SETTINGS_KEY) is not None
    if raw is None:
        what = ("an unfinished prepare (run it again to resume)" if unfinished
                else "not a SiamMask store (foreign LMDB)")
        raise StoreError(f"{path} has no '{MAGIC_KEY.decode()}' record: {what}")
    try:
        header = json.loads(raw)
    except ValueError as error:
        raise StoreError(f"{path}: the '{MAGIC_KEY.decode()}' record is not JSON ({error})") from error
    if not isinstance(header, dict) or header.get("magic") != MAGIC:
        raise StoreError(f"{path}: the '{MAGIC_KEY.decode()}' record does not carry the magic '{MAGIC}'")
    if header.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{path} has store format version {header.get('format_version')!r}; this code reads "
                         f"version {FORMAT_VERSION}: prepare it again")
    return header


def read_store(path: str | Path) -> tuple[dict[str, Any], StoreIndex]:
    """Header and validated index of a complete store."""
    header = read_header(path)
    with open_env(path).begin() as txn:
        blob = txn.get(INDEX_KEY)
    if blob is None:
        raise StoreError(f"{path} has a header but no '{INDEX_KEY.decode()}' record")
    index = StoreIndex.from_bytes(blob)
    index.validate(int(header["crop"]["out_size"]))
    return header, index


# ------------------------------------------------------------------------------------------- writing


@dataclass
class ChunkMeta:
    """What one prepared chunk of a video contributed: tracks (per-frame lists) and what was skipped."""

    video: str
    tracks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ChunkMeta:
        return cls(**json.loads(raw))


class StoreWriter:
    """Builds a store in ``<out>.partial``; :meth:`publish` renames it to ``<out>`` once complete.

    An interrupted build keeps every committed chunk: a new writer with the same ``settings`` resumes
    (``done_chunks`` tells what to skip; chunks that met failures are tried again, in case the files
    were fixed, and their earlier records are left unreferenced). An existing complete store at
    ``out`` is replaced only with ``overwrite=True``, and only after the new one is complete.
    """

    def __init__(self, out: str | Path, settings: dict[str, Any], *, resume: bool = True,
                 overwrite: bool = False, map_size: int = DEFAULT_MAP_SIZE, commit_bytes: int = 64 << 20,
                 commit_seconds: float = 10.0):
        self.out = Path(out)
        self.partial = Path(f"{self.out}{PARTIAL_SUFFIX}")
        self.settings = json.loads(json.dumps(settings, sort_keys=True))  # as read back on resume
        self.commit_bytes = commit_bytes
        self.commit_seconds = commit_seconds
        check_output(self.out, overwrite)
        self._open_partial(resume, map_size)
        self._txn: lmdb.Transaction | None = None
        self._uncommitted: set[bytes] = set()
        self._committed_records = self.next_record
        self._pending_bytes = 0
        self._last_commit = time.monotonic()

    def _open_partial(self, resume: bool, map_size: int) -> None:
        if self.partial.exists():
            found = _partial_settings(self.partial)
            if not resume:
                shutil.rmtree(self.partial)
            elif found != self.settings:
                changed = sorted(k for k in set(found) | set(self.settings)
                                 if found.get(k) != self.settings.get(k))
                raise StoreError(f"{self.partial} holds an unfinished prepare with other settings (differs "
                                 f"in {changed}); run with the same settings to resume, or resume=false to "
                                 f"rebuild")
        self.partial.mkdir(parents=True, exist_ok=True)
        release_env(self.partial)
        self.env = lmdb.open(str(self.partial), map_size=map_size, metasync=False, readahead=False, max_dbs=0)
        self.done_chunks: set[bytes] = set()
        next_record = 0
        with self.env.begin(write=True) as txn:
            txn.put(SETTINGS_KEY, json.dumps(self.settings, sort_keys=True).encode())
            cursor = txn.cursor()
            if cursor.set_range(CHUNK_PREFIX):
                for key, value in cursor.iternext(keys=True, values=True):
                    if not key.startswith(CHUNK_PREFIX):
                        break
                    if not ChunkMeta.from_json(value).failures:  # chunks with failures are tried again
                        self.done_chunks.add(bytes(key))
            # record keys sort after every other key, and their numbers are zero-padded
            if cursor.last() and cursor.key().startswith(RECORD_PREFIX):
                next_record = int(cursor.key()[len(RECORD_PREFIX):]) + 1
        self.next_record = next_record

    def add_chunk(self, key: bytes, meta: ChunkMeta, records: Sequence[bytes]) -> ChunkMeta:
        """Store a chunk's records and its description; fills the record numbers into ``meta.tracks``.

        ``meta.tracks[i]["records"]`` must hold, per frame, the position of its record in ``records``.
        """
        if self._txn is None:
            self._txn = self.env.begin(write=True)
            self._committed_records = self.next_record
        first = self.next_record
        try:
            for offset, record in enumerate(records):
                self._txn.put(record_key(first + offset), record, append=True)
                self._pending_bytes += len(record)
            for track in meta.tracks:
                track["records"] = [first + position for position in track["records"]]
            self._txn.put(key, meta.to_json())
        except BaseException:
            self._rollback()
            raise
        self.next_record += len(records)
        self._uncommitted.add(key)
        overdue = time.monotonic() - self._last_commit >= self.commit_seconds
        if self._pending_bytes >= self.commit_bytes or overdue:
            self.commit()
        return meta

    def _rollback(self) -> None:
        """Drop the open transaction: its chunks are not done and will be prepared again on resume."""
        if self._txn is not None:
            self._txn.abort()
            self._txn = None
        self.next_record = self._committed_records
        self._uncommitted.clear()

    def commit(self) -> None:
        if self._txn is not None:
            self._txn.commit()
            self._txn = None
        self._committed_records = self.next_record
        self.done_chunks |= self._uncommitted
        self._uncommitted.clear()
        self._pending_bytes = 0
        self._last_commit = time.monotonic()

    def read_chunks(self, keys: Iterable[bytes]) -> list[ChunkMeta]:
        self.commit()
        with self.env.begin() as txn:
            values = {key: txn.get(key) for key in keys}
        missing = [key.decode(errors="replace") for key, value in values.items() if value is None]
        if missing:
            raise StoreError(f"{self.out}: chunk record(s) {missing[:3]} are missing from the store being written; "
                             f"write it again into a new folder")
        return [ChunkMeta.from_json(value) for value in values.values() if value is not None]

    def publish(self, header: dict[str, Any], index: StoreIndex, summary: dict[str, Any]) -> Path:
        """Write index + header (last), save the summary beside the DB, then move it to ``out`` atomically."""
        index.validate(int(header["crop"]["out_size"]))
        self.commit()
        with self.env.begin(write=True) as txn:
            txn.put(INDEX_KEY, index.to_bytes())
            header = {**header, "magic": MAGIC, "format_version": FORMAT_VERSION}
            txn.put(MAGIC_KEY, json.dumps(header).encode())
        self.env.sync(True)
        self.env.close()
        (self.partial / SUMMARY_NAME).write_text(json.dumps(summary, indent=2))
        replaced = None
        release_env(self.out)
        if self.out.exists():
            replaced = Path(f"{self.out}.replaced-{os.getpid()}")
            os.rename(self.out, replaced)
        os.rename(self.partial, self.out)
        if replaced is not None:
            shutil.rmtree(replaced)
        return self.out

    def close(self) -> None:
        """Commit the chunks added so far (each is complete) and release the environment (for a resume)."""
        try:
            self.commit()
        finally:
            self._rollback()
            self.env.close()


def check_output(out: str | Path, overwrite: bool) -> None:
    """Refuse to clobber a complete store without ``overwrite`` and anything foreign at all."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise StoreError(f"output {out} exists and is not a directory; choose another out=")
    if not any(out.iterdir()):
        return
    if not is_store(out):
        raise StoreError(f"output {out} exists and is not a SiamMask store; refusing to replace it")
    if not overwrite:
        raise StoreError(f"{out} already holds a complete store; pass overwrite=true to rebuild it")


def _partial_settings(partial: Path) -> dict[str, Any]:
    """Settings recorded in an unfinished store; refuses directories that are not ours."""
    if not (partial / "data.mdb").is_file():
        raise StoreError(f"{partial} exists but is not an unfinished SiamMask store; move it away first")
    release_env(partial)
    env = lmdb.open(str(partial), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            raw = txn.get(SETTINGS_KEY)
    finally:
        env.close()
    if raw is None:
        raise StoreError(f"{partial} exists but is not an unfinished SiamMask store; move it away first")
    return json.loads(raw)
