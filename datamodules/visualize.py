"""Look at training pairs: a PNG grid of templates and search regions with their boxes and masks.

    python -m siammask.datamodules.visualize data=synthetic out=pairs.png n=16 [split=train|val] [epoch=0]
        [start=0] [data.augment=false] [data.sampler.negative_rate=0.5 ...]

Options: conf/visualize.yaml; ``data`` picks a file of conf/data/, whose keys may be overridden as ``data.*``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from siammask.command import command

BOX_POSITIVE_RGB = (0, 255, 0)
BOX_NEGATIVE_RGB = (255, 64, 64)
MASK_TINT_RGB = np.array([255, 0, 255])
MASK_ALPHA = 0.45
GAP = 4  # pixels between tiles
COLUMNS = 4
log = logging.getLogger(__name__)


def _rgb_hwc(image_chw: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(image_chw.detach().cpu().numpy().transpose(1, 2, 0)).astype(np.uint8)


def _draw_box(image: np.ndarray, box_xyxy: torch.Tensor, colour: tuple[int, int, int]) -> None:
    """Outline the pixels an edge-coordinate box covers."""
    x0, y0, x1, y1 = (round(float(v)) for v in box_xyxy)
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), colour, 1)


def _unbatch(samples: Sequence[Mapping[str, torch.Tensor]] | Mapping[str, torch.Tensor]
             ) -> list[Mapping[str, torch.Tensor]]:
    if isinstance(samples, Mapping):
        return [{k: v[i] for k, v in samples.items()} for i in range(len(samples["search"]))]
    return list(samples)


def sample_tile(sample: Mapping[str, torch.Tensor]) -> np.ndarray:
    """One pair as an RGB image: template (top left) and search region side by side."""
    template, search = _rgb_hwc(sample["template"]), _rgb_hwc(sample["search"])
    negative = bool(sample["is_negative"])
    if bool(sample["has_mask"]):
        mask = sample["search_mask"].detach().cpu().numpy().astype(bool)
        search[mask] = (search[mask] * (1 - MASK_ALPHA) + MASK_TINT_RGB * MASK_ALPHA).astype(np.uint8)
    _draw_box(template, sample["template_bbox"], BOX_POSITIVE_RGB)
    _draw_box(search, sample["search_bbox"], BOX_NEGATIVE_RGB if negative else BOX_POSITIVE_RGB)
    tile = np.full((search.shape[0], template.shape[1] + GAP + search.shape[1], 3), 255, dtype=np.uint8)
    tile[: template.shape[0], : template.shape[1]] = template
    tile[:, template.shape[1] + GAP:] = search
    label = "negative" if negative else ("mask" if bool(sample["has_mask"]) else "box only")
    cv2.putText(tile, label, (2, template.shape[0] + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def tile_grid(tiles: Sequence[np.ndarray], columns: int = COLUMNS) -> np.ndarray:
    """Equal-sized RGB tiles in rows of ``columns`` on a white background."""
    if not tiles:
        raise ValueError("a grid needs at least one tile")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    cols = min(columns, len(tiles))
    grid = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (h + GAP): r * (h + GAP) + h, c * (w + GAP): c * (w + GAP) + w] = tile
    return grid


def save_png(image_rgb: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def save_sample_grid(samples: Sequence[Mapping[str, torch.Tensor]] | Mapping[str, torch.Tensor],
                     path: str | Path, columns: int = COLUMNS) -> Path:
    """Write samples (a list of sample dicts or one collated batch) as a PNG grid; returns the path.

    Boxes: green on the template and on positive search regions, red on negatives (the other object);
    the search mask is tinted magenta.
    """
    return save_png(tile_grid([sample_tile(s) for s in _unbatch(samples)], columns), path)


@command("visualize")
def main(cfg: DictConfig) -> Path:
    if cfg.split not in ("train", "val"):
        raise ValueError(f"split must be train or val, got {cfg.split!r}")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    dataset = datamodule.train_dataset if cfg.split == "train" else datamodule.val_dataset
    if dataset is None:
        raise ValueError(f"the data config has no {cfg.split} split")
    dataset.set_epoch(int(cfg.epoch))
    start, n = int(cfg.start), int(cfg.n)
    path = save_sample_grid([dataset[i % len(dataset)] for i in range(start, start + n)], cfg.out)
    log.info("wrote %d %s pairs to %s", n, cfg.split, path)
    return path


if __name__ == "__main__":
    main()
