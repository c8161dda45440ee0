"""Validate a prepared SiamMask store and describe it (what ``prepare`` wrote, or a copy of it).

    python -m siammask.datamodules.check_store path=<lmdb dir> [samples=N] [seed=N]

Checks the header and index, that every indexed record is present, and decodes ``samples`` records
picked at random; prints the store's statistics and every problem found, and exits with 1 if there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from siammask.command import command

from .lmdb_store import StoreError, StoreIndex, decode_record, open_env, read_store, record_key


def check(path: str | Path, samples: int = 64, seed: int = 0) -> dict[str, Any]:
    """Validate a store (header, index, every record present, ``samples`` records decoded) and describe it.

    Returns statistics with a ``problems`` list (empty when the store is sound).
    """
    header, index = read_store(path)
    out_size = int(header["crop"]["out_size"])
    problems: list[str] = []
    with open_env(path).begin(buffers=True) as txn:
        missing = [int(r) for r in index.frame_record if txn.get(record_key(int(r))) is None]
        if missing:
            problems.append(f"{len(missing)} records listed in the index are missing, e.g. {missing[:5]}")
        rng = np.random.default_rng(seed)
        picked = rng.choice(index.num_frames, size=min(samples, index.num_frames), replace=False)
        for frame in sorted(int(f) for f in picked):
            problems.extend(_check_record(txn, index, frame, out_size))
    box_image = index.frame_image_box_xyxy.astype(np.float64)
    wh_image = box_image[:, 2:] - box_image[:, :2]
    wh_crop = (index.frame_box_xyxy[:, 2:] - index.frame_box_xyxy[:, :2]).astype(np.float64)
    stats = {
        "path": str(path), "dataset": header["dataset"], "split": header["split"],
        "has_masks": header["has_masks"],
        "videos": index.num_videos, "tracks": index.num_tracks, "frames": index.num_frames,
        "masks": int(index.frame_has_mask.sum()),
        "track_length": _percentiles(index.track_lengths()),
        "box_size_image_px": _percentiles(np.sqrt(wh_image.prod(axis=1))),
        "box_aspect_w_over_h": _percentiles(wh_image[:, 0] / wh_image[:, 1]),
        "box_size_crop_px": _percentiles(np.sqrt(wh_crop.prod(axis=1))),
        "records_decoded": len(picked),
        "problems": problems,
    }
    _print_check(stats)
    return stats


def _check_record(txn, index: StoreIndex, frame: int, out_size: int) -> list[str]:
    record = int(index.frame_record[frame])
    raw = txn.get(record_key(record))
    if raw is None:
        return []  # already counted as missing
    try:
        image, box, mask = decode_record(raw)
    except StoreError as error:
        return [f"record {record}: {error}"]
    found = []
    if image.shape != (out_size, out_size, 3):
        found.append(f"record {record}: image shape {image.shape}, expected {(out_size, out_size, 3)}")
    if not np.allclose(box, index.frame_box_xyxy[frame], atol=1e-3):
        found.append(f"record {record}: box {box.tolist()} differs from the index "
                     f"{index.frame_box_xyxy[frame].tolist()}")
    if (mask is not None) != bool(index.frame_has_mask[frame]):
        found.append(f"record {record}: mask presence disagrees with the index")
    if mask is not None and (mask.shape != image.shape[:2] or mask.max() > 1):
        found.append(f"record {record}: mask of shape {mask.shape} / max {mask.max()} is not an HW {{0,1}} "
                     f"map")
    return found


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    q = np.percentile(values, [0, 5, 50, 95, 100])
    return {name: round(float(v), 2) for name, v in zip(("min", "p5", "median", "p95", "max"), q)}


def _print_check(stats: dict[str, Any]) -> None:
    print(f"{stats['path']}: SiamMask store of {stats['dataset']}/{stats['split']} "
          f"(masks: {stats['has_masks']})")
    print(f"  videos {stats['videos']}, tracks {stats['tracks']}, frames {stats['frames']}, "
          f"masks {stats['masks']}")
    for key in ("track_length", "box_size_image_px", "box_aspect_w_over_h", "box_size_crop_px"):
        print(f"  {key:<20} " + "  ".join(f"{k} {v:g}" for k, v in stats[key].items()))
    print(f"  decoded {stats['records_decoded']} records; " +
          ("OK" if not stats["problems"] else f"{len(stats['problems'])} PROBLEMS:"))
    for problem in stats["problems"]:
        print(f"    {problem}")


@command("check_store")
def main(cfg: DictConfig) -> None:
    stats = check(cfg.path, int(cfg.samples), int(cfg.seed))
    if stats["problems"]:
        raise StoreError(f"{cfg.path}: {len(stats['problems'])} problems (listed above)")


if __name__ == "__main__":
    main()
