"""Result files in the layouts the public toolkits read, so our runs can be scored by them and theirs by us.

* VOT / pysot baseline: ``<results_dir>/<seq>/<seq>_001.txt``, one line per frame: ``1`` (initialised),
  ``2`` (failure), ``0`` (skipped) or the region as comma-separated numbers (4 = ``x, y, w, h``,
  2K = polygon), image pixels.
* VOT2020 anchor-based (the vot-toolkit's text results): ``<results_dir>/<seq>/<seq>_<anchor:08d>.txt`` per anchor,
  one line per frame of the run in run order, ``1`` then ``m<x>,<y>,<w>,<h>,<runs>`` masks (or rectangles /
  polygons), and the seconds per frame in ``<seq>_<anchor:08d>_time.value``; the toolkit's binary
  ``<seq>_<anchor:08d>.bin`` (its default since version 0.6) is read too.
* GOT-10k: the VOT path ``<results_dir>/<seq>/<seq>_001.txt`` (``x,y,w,h`` per frame) and ``<seq>_time.txt``.
* OTB (and LaSOT, UAV123, NfS, TrackingNet): ``<results_dir>/<seq>.txt``, one ``x,y,w,h`` line per frame (commas, tabs or spaces are read).
* DAVIS / YouTube-VOS: ``<results_dir>/<seq>/<frame>.png``, indexed (palette) PNGs whose pixel values
  are object ids (0 = background).

Every reader checks the number of lines / the image size against the ground truth it is scored with
and raises ``ValueError`` / ``FileNotFoundError`` naming the file and the sequence.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from siammask.evaluation.region import (
    FAILURE,
    INIT,
    SKIP,
    MaskRegion,
    decode_rle,
    encode_rle,
    polygon_from_values,
    region_from_text,
)
from siammask.evaluation.vot import VotEntry
from siammask.label_png import read_label_png
from siammask.runs import PARTIAL_SUFFIX

_SEPARATORS = re.compile(r"[,\s]+")
_CODES = (INIT, FAILURE, SKIP)
VOT_RUN_SUFFIX = "_001"  # the single run of a deterministic tracker (pysot / VOT naming)


def vot_result_path(results_dir: str | Path, sequence: str) -> Path:
    return Path(results_dir) / sequence / f"{sequence}{VOT_RUN_SUFFIX}.txt"


def vot2020_result_path(results_dir: str | Path, sequence: str, anchor: int) -> Path:
    """The run started at frame ``anchor`` (0-based), named as the vot-toolkit's multistart experiment names it."""
    return Path(results_dir) / sequence / f"{sequence}_{anchor:08d}.txt"


def vot2020_time_path(results_dir: str | Path, sequence: str, anchor: int) -> Path:
    """That run's seconds per frame (the toolkit's ``time`` property file)."""
    return Path(results_dir) / sequence / f"{sequence}_{anchor:08d}_time.value"


def otb_result_path(results_dir: str | Path, sequence: str) -> Path:
    return Path(results_dir) / f"{sequence}.txt"


def time_result_path(results_dir: str | Path, sequence: str) -> Path:
    """GOT-10k's per-frame seconds, next to the boxes: ``<seq>/<seq>_time.txt``."""
    return Path(results_dir) / sequence / f"{sequence}_time.txt"


def write_times(path: str | Path, seconds: np.ndarray) -> None:
    write_text_atomically(path, "".join(f"{t:.8f}\n" for t in np.asarray(seconds, np.float64).reshape(-1)))


def write_submission_zip(folder: str | Path, files: list[Path], zip_path: str | Path) -> Path:
    """``files`` (under ``folder``) zipped with their paths relative to ``folder`` (the servers' layout), written
    whole or not at all."""
    folder, zip_path = Path(folder), Path(zip_path)
    partial = zip_path.with_name(zip_path.name + PARTIAL_SUFFIX)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(folder).as_posix())
    os.replace(partial, zip_path)
    return zip_path


def label_map_path(results_dir: str | Path, sequence: str, frame: str) -> Path:
    return Path(results_dir) / sequence / f"{frame}.png"


def read_number_rows(path: str | Path, sequence: str) -> list[np.ndarray]:
    """Rows of numbers separated by commas, tabs or spaces (ground-truth and result text files)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence {sequence!r}: missing file {path}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = [f for f in _SEPARATORS.split(line.strip()) if f]
        if not fields:
            continue
        try:
            rows.append(np.array([float(f) for f in fields]))
        except ValueError as err:
            raise ValueError(f"sequence {sequence!r}: {path} line {number} is not numbers: {line!r}") from err
    return rows


def _check_length(path: Path, sequence: str, found: int, expected: int | None) -> None:
    if expected is not None and found != expected:
        raise ValueError(f"sequence {sequence!r}: {path} has {found} lines but the sequence has {expected} frames")


def write_vot_trajectory(path: str | Path, trajectory: Sequence[VotEntry | MaskRegion]) -> None:
    """Codes, polygons / rectangles and (VOT2020) masks, one line each."""
    lines = []
    for entry in trajectory:
        if isinstance(entry, (int, np.integer)):
            lines.append(f"{int(entry):d}")
        elif isinstance(entry, MaskRegion):
            lines.append("m" + ",".join(str(v) for v in encode_rle(entry)))
        else:
            lines.append(",".join(f"{v:.4f}" for v in np.asarray(entry, dtype=np.float64).reshape(-1)))
    write_text_atomically(path, "\n".join(lines) + "\n")


def write_text_atomically(path: str | Path, text: str) -> None:
    """Writes ``<file>.partial`` and renames it, so a killed run leaves the whole file or none (eval.py resume)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.write_text(text)
    os.replace(partial, path)


def read_vot_trajectory(path: str | Path, sequence: str, num_frames: int | None = None) -> list[VotEntry]:
    """Codes stay ints, regions become (K, 2) polygons."""
    path = Path(path)
    trajectory: list[VotEntry] = []
    for number, row in enumerate(read_number_rows(path, sequence), start=1):
        if row.size == 1:
            if row[0] not in _CODES:
                raise ValueError(f"sequence {sequence!r}: {path} line {number} holds the single number {row[0]}, "
                                 f"but single numbers must be one of the codes {_CODES}")
            trajectory.append(int(row[0]))
            continue
        try:
            trajectory.append(polygon_from_values(row))
        except ValueError as err:
            raise ValueError(f"sequence {sequence!r}: {path} line {number}: {err}") from err
    _check_length(path, sequence, len(trajectory), num_frames)
    return trajectory


def read_region_lines(path: str | Path, sequence: str, num_frames: int | None = None
                      ) -> list[int | np.ndarray | MaskRegion]:
    """A VOT region file of any kind (a VOT2020 ``groundtruth.txt``, a toolkit result): one code, polygon /
    rectangle or ``m...`` mask a line (:func:`siammask.evaluation.region.region_from_text`); blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence {sequence!r}: missing file {path}")
    regions = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            regions.append(region_from_text(line))
        except ValueError as err:
            raise ValueError(f"sequence {sequence!r}: {path} line {number}: {err}") from err
    _check_length(path, sequence, len(regions), num_frames)
    return regions


def read_vot2020_run(results_dir: str | Path, sequence: str, anchor: int, num_frames: int
                     ) -> list[int | np.ndarray | MaskRegion]:
    """The run started at ``anchor``: the text file, or the toolkit's binary one when there is no text file."""
    path = vot2020_result_path(results_dir, sequence, anchor)
    binary = path.with_suffix(".bin")
    if path.is_file() or not binary.is_file():
        return read_region_lines(path, sequence, num_frames)
    try:
        regions = _read_toolkit_binary(binary.read_bytes())
    except (struct.error, ValueError) as err:
        raise ValueError(f"sequence {sequence!r}: {binary} is not a vot-toolkit binary trajectory: {err}") from err
    _check_length(binary, sequence, len(regions), num_frames)
    return regions


def _read_toolkit_binary(data: bytes) -> list[int | np.ndarray | MaskRegion]:
    """The vot-toolkit's binary trajectory (``vot/region/io.py``, ``write_trajectory_binary``): a little-endian
    header (int16 version 1, uint32 count), then per region a type byte: 0 code (uint32), 1 rectangle (4 float32),
    2 polygon (uint16 K, 2K float32), 3 mask (int16 x, y, uint16 w, h, uint16 n, n uint16 run lengths)."""
    offset = 0

    def take(layout: str) -> tuple:
        nonlocal offset
        values = struct.unpack_from("<" + layout, data, offset)
        offset += struct.calcsize("<" + layout)
        return values

    _, count = take("hI")
    regions: list[int | np.ndarray | MaskRegion] = []
    for _ in range(count):
        (kind,) = take("B")
        if kind == 0:
            regions.append(int(take("I")[0]))
        elif kind == 1:
            regions.append(polygon_from_values(list(take("4f"))))
        elif kind == 2:
            (corners,) = take("H")
            regions.append(polygon_from_values(list(take(f"{2 * corners}f"))))
        elif kind == 3:
            x, y, w, h, runs = take("hhHHH")
            regions.append(decode_rle([x, y, w, h, *take(f"{runs}H")]))
        else:
            raise ValueError(f"region type {kind} is not a code, rectangle, polygon or mask")
    return regions


def write_otb_boxes(path: str | Path, boxes_xywh: np.ndarray) -> None:
    rows = [",".join(f"{v:.4f}" for v in box) for box in np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)]
    write_text_atomically(path, "\n".join(rows) + "\n")


def read_otb_boxes(path: str | Path, sequence: str, num_frames: int | None = None) -> np.ndarray:
    """(T, 4) ``x, y, w, h`` boxes, image pixels."""
    path = Path(path)
    rows = read_number_rows(path, sequence)
    for number, row in enumerate(rows, start=1):
        if row.size != 4:
            raise ValueError(f"sequence {sequence!r}: {path} line {number} has {row.size} numbers, "
                             "expected 4 (x,y,w,h)")
    _check_length(path, sequence, len(rows), num_frames)
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def davis_palette() -> np.ndarray:
    """The (256, 3) colour map of DAVIS / PASCAL VOC label PNGs: bits of the id spread over R, G, B."""
    ids = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette.astype(np.uint8)


_PALETTE = davis_palette().reshape(-1).tolist()


def write_label_map(path: str | Path, labels: np.ndarray) -> None:
    """(H, W) object ids 0..255 -> indexed PNG with the DAVIS palette."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError(f"a label map must be (H, W) with ids in 0..255, got shape {labels.shape}")
    image = Image.fromarray(labels.astype(np.uint8))
    image.putpalette(_PALETTE)  # turns the grey image into an indexed one
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def read_label_map(path: str | Path, sequence: str, image_hw: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) object ids of a sequence's mask PNG (:func:`siammask.label_png.read_label_png`'s rules), checked
    against the frame size; errors name the sequence."""
    try:
        labels, _ = read_label_png(path)
    except (FileNotFoundError, ValueError) as error:
        raise type(error)(f"sequence {sequence!r}: {error}") from error
    if image_hw is not None and labels.shape != tuple(image_hw):
        raise ValueError(f"sequence {sequence!r}: mask {path} is {labels.shape[1]}x{labels.shape[0]}, "
                         f"the frames are {image_hw[1]}x{image_hw[0]}")
    return labels
