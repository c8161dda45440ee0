"""Write a small custom-format example (docs/custom_data.md) from the tennis frames of ../shared/data/tennis.

    python scripts/make_tennis_example.py [frames=../shared/data/tennis] [out=data/tennis_example]
                                          [clips=5] [frames_per_clip=14]         (conf/tennis_example.yaml)

The 70 frames are cut into ``clips`` consecutive clips; all but the last go to ``<out>/videos`` (training),
the last to ``<out>/held_out`` (validation store and ``eval.py benchmark=custom``). One object, the player
(id 1), per frame:

* **boxes** (``boxes.txt``): the player's box placed by hand on 8 key frames (``KEY_BOXES_XYXY``, read off
  the frames with a pixel grid), linearly interpolated in between;
* **masks** (``masks/``): OpenCV's GrabCut inside that box, with clay-, banner- and wall-coloured pixels hinted
  as background, keeping the largest region. These are rough, made by a rule, not by hand: often the upper
  body only, sometimes missing a leg or the racket. Enough to show the mechanics of fine-tuning and scoring,
  not ground truth to publish numbers on.

**Negative pairs show the same player.** Every clip is the same player on the same court, while the pair sampler
takes a negative pair's search frame from *another video* (here: another clip), which shows him too: with the
default ``data.sampler.negative_rate`` (0.2) a fifth of the pairs teach "this player is not the target". Fine-tune
on the example with ``data.sampler.negative_rate=0`` for pairs that mean what they say; your own videos of
different objects need nothing of the kind.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig
from siammask.datamodules.readers.custom import write_custom_video

from siammask.command import command
from siammask.geometry import xyxy_to_xywh

TENNIS = Path("../shared/data/tennis")  # relative to the repository root, as in README's commands
log = logging.getLogger(__name__)
# The player's box (x0, y0, x1, y1, image pixels) on key frames, placed by hand; frame 0 is README's track.py box.
KEY_BOXES_XYXY = {0: (305, 112, 468, 365), 10: (183, 105, 357, 375), 20: (110, 85, 382, 382),
                  30: (153, 128, 392, 398), 40: (106, 145, 390, 395), 50: (262, 105, 474, 397),
                  60: (273, 103, 468, 401), 69: (303, 130, 462, 393)}
GRABCUT_MARGIN = 24  # pixels of certain background around the box in the GrabCut crop
GRABCUT_ITERATIONS = 4


def player_box_xyxy(frame: int) -> np.ndarray:
    """The hand-placed key box, or the linear interpolation of the two key frames around ``frame``."""
    keys = sorted(KEY_BOXES_XYXY)
    if not keys[0] <= frame <= keys[-1]:
        raise ValueError(f"frame {frame} outside the annotated frames {keys[0]}..{keys[-1]}")
    before = max(k for k in keys if k <= frame)
    after = min(k for k in keys if k >= frame)
    t = 0.0 if after == before else (frame - before) / (after - before)
    return (1 - t) * np.array(KEY_BOXES_XYXY[before], float) + t * np.array(KEY_BOXES_XYXY[after], float)


def grabcut_mask(image_bgr: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/1: GrabCut in a crop around the box; outside the box is background, inside it pixels of
    the court's clay, the blue banner and the grey wall (HSV thresholds) are probably background."""
    h, w = image_bgr.shape[:2]
    x0, y0 = max(int(box_xyxy[0]) - GRABCUT_MARGIN, 0), max(int(box_xyxy[1]) - GRABCUT_MARGIN, 0)
    x1 = min(int(np.ceil(box_xyxy[2])) + GRABCUT_MARGIN, w)
    y1 = min(int(np.ceil(box_xyxy[3])) + GRABCUT_MARGIN, h)
    crop = np.ascontiguousarray(image_bgr[y0:y1, x0:x1])
    labels = np.full(crop.shape[:2], cv2.GC_BGD, np.uint8)
    inside = np.zeros(crop.shape[:2], bool)
    inside[int(box_xyxy[1]) - y0:int(np.ceil(box_xyxy[3])) - y0,
           int(box_xyxy[0]) - x0:int(np.ceil(box_xyxy[2])) - x0] = True
    hue, sat, val = np.moveaxis(cv2.cvtColor(crop, cv2.COLOR_BGR2HSV), -1, 0)
    clay = ((hue <= 15) | (hue >= 170)) & (sat > 110)
    banner = (hue >= 95) & (hue <= 130) & (sat > 90)
    wall = (sat < 50) & (val > 55) & (val < 150)
    labels[inside] = cv2.GC_PR_FGD
    labels[inside & (clay | banner | wall)] = cv2.GC_PR_BGD
    cv2.grabCut(crop, labels, None, np.zeros((1, 65)), np.zeros((1, 65)), GRABCUT_ITERATIONS,
                cv2.GC_INIT_WITH_MASK)
    mask = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    count, regions, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count > 1:
        mask = (regions == 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])).astype(np.uint8)
    out = np.zeros((h, w), np.uint8)
    out[y0:y1, x0:x1] = mask
    return out


def make_tennis_example(out: str | Path, clips: int = 5, frames_per_clip: int = 14,
                        frames_dir: Path = TENNIS) -> tuple[Path, Path]:
    """Write ``<out>/videos`` (training clips) and ``<out>/held_out`` (the last clip); returns both roots."""
    out = Path(out)
    frames = sorted(frames_dir.glob("*.jpg"))
    if clips < 2 or clips * frames_per_clip > len(frames):
        raise ValueError(f"{clips} clips of {frames_per_clip} frames need >= 2 clips and at most {len(frames)} "
                         f"frames in {frames_dir}")
    step = len(frames) // clips  # clips spread over the whole video
    for clip in range(clips):
        indices = range(clip * step, clip * step + frames_per_clip)
        labels, boxes = {}, {}
        for position, index in enumerate(indices):
            box = player_box_xyxy(index)
            labels[position] = grabcut_mask(cv2.imread(str(frames[index])), box)
            boxes[position] = {1: np.round(xyxy_to_xywh(box), 1).tolist()}
        root = out / ("held_out" if clip == clips - 1 else "videos")
        write_custom_video(root / f"clip{clip}", [frames[i] for i in indices], labels, boxes)
    return out / "videos", out / "held_out"


@command("tennis_example")
def main(cfg: DictConfig) -> None:
    train, held_out = make_tennis_example(cfg.out, int(cfg.clips), int(cfg.frames_per_clip), Path(cfg.frames))
    log.info("wrote %s and %s", train, held_out)
    log.warning("every clip shows the same player, so negative pairs (another clip's object) show the target too: "
                "fine-tune on this example with data.sampler.negative_rate=0 (see the script's docstring)")


if __name__ == "__main__":
    main()
