"""Does the tracker follow real objects? track.py, with its defaults, on each clip of conf/follow_real_footage.yaml
from the first hand-labelled box; on every other labelled frame the tracked box must have its centre inside the
labelled box and overlap it. Prints and writes (follow.json, follow.md) per clip: labelled frames followed, the
first one missed, the mean IoU with the labels; ``figures_dir=`` also writes stills with the labels outlined.

    .venv/bin/python scripts/follow_real_footage.py                            # the newest `make train` run
    .venv/bin/python scripts/follow_real_footage.py ckpt_path=<ckpt> 'track=["tracker=vot"]' figures_dir=docs/figures

Two boxes are judged: the tracker's box (results.json ``bbox_xywh``) and the axis-aligned bounds of the reported
region (``polygon``, the mask's rotated rectangle with the default box_mode).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig

from siammask.cli.track import run as track
from siammask.command import command
from siammask.geometry import iou_xyxy, polygon_bounds_xyxy, xywh_to_xyxy
from siammask.tracking.video import overlay_stills

log = logging.getLogger(__name__)


def judge(tracked_xyxy: np.ndarray, label_xyxy: np.ndarray) -> tuple[bool, float]:
    """Followed (the tracked box's centre inside the label and the boxes overlap) and the IoU."""
    centre = (tracked_xyxy[:2] + tracked_xyxy[2:]) / 2
    iou = float(iou_xyxy(tracked_xyxy, label_xyxy))
    inside = bool(np.all(centre >= label_xyxy[:2]) and np.all(centre <= label_xyxy[2:]))
    return inside and iou > 0, iou


def score_clip(results: list[dict], labels_xyxy: dict[int, np.ndarray]) -> dict:
    """Per judged box: labelled frames followed (frame 0 gives the box and is not judged), the first missed, IoUs."""
    by_frame = {r["frame"]: r for r in results if r["target"] == 0}
    judged = sorted(f for f in labels_xyxy if f > 0)
    boxes = {"tracker_box": lambda r: xywh_to_xyxy(np.array(r["bbox_xywh"])),
             "region_bounds": lambda r: polygon_bounds_xyxy(np.array(r["polygon"]))}
    scores = {}
    for name, box_of in boxes.items():
        verdicts = [judge(box_of(by_frame[f]), labels_xyxy[f]) if f in by_frame else (False, 0.0) for f in judged]
        missed = [f for f, (ok, _) in zip(judged, verdicts) if not ok]
        scores[name] = {"followed": len(judged) - len(missed), "labelled": len(judged),
                        "first_missed": missed[0] if missed else None,
                        "mean_iou": round(float(np.mean([iou for _, iou in verdicts])), 3),
                        "iou": {f: round(iou, 3) for f, (_, iou) in zip(judged, verdicts)}}
    return {"frames_tracked": len(by_frame), **scores}


def markdown(scores: dict[str, dict]) -> str:
    lines = ["| clip | frames | box | labelled frames followed | first missed | mean IoU with the labels |",
             "|---|---:|---|---:|---:|---:|"]
    for clip, score in scores.items():
        for name in ("tracker_box", "region_bounds"):
            s = score[name]
            lines.append(f"| {clip} | {score['frames_tracked']} | {name} | {s['followed']} / {s['labelled']} | "
                         f"{s['first_missed'] if s['first_missed'] is not None else '-'} | {s['mean_iou']:.3f} |")
    return "\n".join(lines) + "\n"


@command("follow_real_footage")
def main(cfg: DictConfig) -> dict[str, dict]:
    output_dir = Path(cfg.output_dir)
    scores = {}
    for clip, spec in cfg.clips.items():
        labels_xyxy = {int(f): xywh_to_xyxy(np.array(box, dtype=np.float64)) for f, box in spec.labels.items()}
        if 0 not in labels_xyxy:
            raise ValueError(f"clip {clip!r}: its labels must include frame 0, the box the tracker starts from")
        first = [float(v) for v in spec.labels[0]]
        overrides = [f"input={spec.input}", f"bbox=[{','.join(map(str, first))}]",
                     f"output_dir={output_dir / clip}", "progress=false", *cfg.track]
        if cfg.ckpt_path:
            overrides.append(f"ckpt_path={cfg.ckpt_path}")
        outputs = track(hydra.compose("track", overrides=overrides))
        scores[clip] = score_clip(json.loads(outputs.results_json.read_text()), labels_xyxy)
        if cfg.figures_dir and outputs.overlay_video is not None:
            figure = Path(cfg.figures_dir) / f"{clip}.png"
            figure.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(figure), overlay_stills(outputs.overlay_video, list(spec.stills), cfg.still_width,
                                                    labels_xyxy))
            log.info("wrote %s", figure)
    (output_dir / "follow.json").write_text(json.dumps(scores, indent=1) + "\n")
    (output_dir / "follow.md").write_text(markdown(scores))
    print(markdown(scores), end="")
    return scores


if __name__ == "__main__":
    main()
