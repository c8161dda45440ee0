"""Real training data: prepared LMDB stores (``siammask.datamodules.prepare``) as sources and as a datamodule.

Every store holds 511x511 context crops at exemplar scale; :meth:`LmdbTrackSource.frame` returns such a
crop as the frame and the box in its pixels, and the pair sampler cuts template and search from it
exactly as the release cut them from its ``crop511`` JPEG files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lmdb

from .lmdb_store import StoreError, decode_record, open_env, read_store, record_key
from .pair_datamodule import PairDataModule
from .readers import READERS
from .sampler import SourceSpec
from .sources import Frame


class LmdbTrackSource:
    """A prepared store as a :class:`~siammask.datamodules.sources.TrackSource`.

    The index (numpy arrays) is read once at construction and pickled with the source; the LMDB
    environment is opened on first use in each process and never pickled. Forked DataLoader workers
    inherit the object with the parent's handle, which LMDB forbids using across ``fork``: the pid
    check makes each process take its own (:func:`~siammask.datamodules.lmdb_store.open_env`).
    """

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = str(Path(path).expanduser())
        self.header, self.index = read_store(self.path)
        self.name: str = name or str(self.header["dataset"])
        self.has_masks: bool = bool(self.header["has_masks"])
        self.stored_crop: dict[str, Any] = dict(self.header["crop"])  # how prepare cut it: the sampler checks
        self._env: lmdb.Environment | None = None
        self._pid: int | None = None
        if self.index.num_tracks == 0:
            raise StoreError(f"{self.path} holds no track")
        reader = READERS.get(str(self.header["dataset"]))
        if reader is not None and not reader.still_images and self.index.track_lengths().max() < 2:
            raise StoreError(f"{self.path}: none of its {self.index.num_tracks} tracks has two frames, so it has "
                             f"no pair of frames to train on (a {self.header['dataset']} store needs an object "
                             f"annotated in at least two frames of a video; docs/custom_data.md)")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_env"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return (f"LmdbTrackSource({self.name!r}, path={self.path!r}, videos={self.index.num_videos}, "
                f"tracks={self.num_tracks()}, frames={self.index.num_frames}, masks={self.has_masks})")

    def num_tracks(self) -> int:
        return self.index.num_tracks

    def track_length(self, track: int) -> int:
        return int(self.index.track_start[track + 1] - self.index.track_start[track])

    def video_of(self, track: int) -> int:
        return int(self.index.track_video[track])

    def frame_number(self, track: int, index: int) -> int:
        """Frame number of ``index`` in the original video (e.g. for gaps in a VID track)."""
        return int(self.index.frame_number[self._frame(track, index)])

    def frame(self, track: int, index: int) -> Frame:
        position = self._frame(track, index)
        key = record_key(int(self.index.frame_record[position]))
        with self._environment().begin(buffers=True) as txn:
            raw = txn.get(key)
            where = f"{self.path}: record {key.decode()} (track {track} frame {index})"
            if raw is None:
                raise StoreError(f"{where} is missing")
            try:
                image, box_xyxy, mask = decode_record(raw)
            except StoreError as error:
                raise StoreError(f"{where}: {error}") from error
        return Frame(image=image, box_xyxy=box_xyxy, mask=mask)

    def _frame(self, track: int, index: int) -> int:
        if not 0 <= track < self.num_tracks():
            raise IndexError(f"{self.name}: track {track} outside 0..{self.num_tracks() - 1}")
        length = self.track_length(track)
        if not 0 <= index < length:
            raise IndexError(f"{self.name}: frame {index} outside 0..{length - 1} of track {track}")
        return int(self.index.track_start[track]) + index

    def _environment(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            self._env = open_env(self.path)  # the process's own handle, also after fork
            self._pid = os.getpid()
        return self._env


class LmdbDataModule(PairDataModule):
    """:class:`~siammask.datamodules.pair_datamodule.PairDataModule` over prepared stores, configured by paths.

    Either one dataset (``path``, optional ``val_path``, ``num_use``, ``frame_range``, ``name``) or a
    mixture (``datasets`` / ``val_datasets``: name -> ``{path, num_use, frame_range}``; a ``None``
    entry leaves that dataset out). The other keyword arguments go to ``PairDataModule``.
    """

    def __init__(self, datasets: Mapping[str, Mapping[str, Any] | None] | None = None,
                 val_datasets: Mapping[str, Mapping[str, Any] | None] | None = None, *,
                 path: str | None = None, val_path: str | None = None, name: str = "data", num_use: int = -1,
                 frame_range: int = 1, val_num_use: int = -1, **kwargs: Any):
        if (path is None) == (datasets is None):
            raise ValueError("give either path (one dataset) or datasets (a mixture), not both or neither "
                             f"(path={path!r}, datasets={datasets!r})")
        if path is not None:
            datasets = {name: {"path": path, "num_use": num_use, "frame_range": frame_range}}
            val_datasets = {name: {"path": val_path, "num_use": val_num_use, "frame_range": frame_range}} \
                if val_path is not None else None
        assert datasets is not None  # exactly one of path / datasets, checked above
        train, train_problems = sources_from_paths(datasets, "datasets")
        val, val_problems = sources_from_paths(val_datasets or {}, "val_datasets")
        problems = train_problems + val_problems
        if problems:  # every unusable store at once, so one round of prepare fixes them all
            raise StoreError(f"{len(problems)} LMDB store(s) cannot be used: {'; '.join(problems)}. Prepare each with: "
                             f"python -m siammask.datamodules.prepare dataset=<dataset> root=<official dataset folder> "
                             f"out=<path> (docs/datasets.md), or leave it out with data.<key>.<name>=null")
        super().__init__(train, val or None, **kwargs)


def sources_from_paths(datasets: Mapping[str, Mapping[str, Any] | None],
                       key: str) -> tuple[list[SourceSpec], list[str]]:
    """``SourceSpec`` per entry (skipping ``None`` ones), each store opened to read its index now, and what is
    wrong with the stores that cannot be opened (``<key>.<name>.path: <reason>``)."""
    specs, problems = [], []
    for name, entry in datasets.items():
        if entry is None:
            continue
        unknown = set(entry) - {"path", "num_use", "frame_range"}
        if unknown or "path" not in entry:
            raise ValueError(f"{key}.{name}: expected keys path, num_use, frame_range; got {sorted(entry)}")
        try:
            source = LmdbTrackSource(entry["path"], name=name)
        except StoreError as error:
            problems.append(f"{key}.{name}.path: {error}")
            continue
        specs.append(SourceSpec(source, num_use=int(entry.get("num_use", -1)),
                                frame_range=int(entry.get("frame_range", 1))))
    return specs, problems
