"""Tile chosen frames of track.py's overlay video into one image.

    python track.py input=../shared/data/tennis bbox=[305,112,163,253] output_dir=out/tennis
    python scripts/overlay_stills.py video=out/tennis/overlay.mp4 frames=[10,35,69] out=docs/figures/tennis.png

scripts/follow_real_footage.py makes the README's stills of the shared clips this way, with the hand labels drawn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
from omegaconf import DictConfig

from siammask.command import command
from siammask.tracking.video import overlay_stills

log = logging.getLogger(__name__)


@command("overlay_stills")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), overlay_stills(Path(cfg.video), [int(i) for i in cfg.frames], int(cfg.width)))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
