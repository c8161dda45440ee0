"""Track objects through a video from boxes or masks on its first frame; writes results.json, masks, an overlay and
timing.json (median time per tracked frame and per stage, with the backend, threads, CPU model and load).

    python track.py input=<video file | folder of frames> bbox=[x,y,w,h] [ckpt_path=<ckpt>] [output_dir=<dir>]
    siammask-track input=<video | frames> bbox=[x,y,w,h] ckpt_path=<ckpt>   # the console command, from any folder
    python track.py input=<video | frames> mask=<first-frame mask PNG> [ckpt_path=<ckpt>]

See conf/track.yaml for the options and siammask.tracking.video for the output formats.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from siammask.command import check_writable, command
from siammask.hydra_glue import runtime_options
from siammask.label_png import read_label_png
from siammask.tracking import Tracker, default_checkpoint, load_tracker, open_frames
from siammask.tracking.timing import timing_summary, write_timing
from siammask.tracking.video import TrackingOutputs, boxes_from_xywh, check_max_frames, track_video

log = logging.getLogger(__name__)


def read_first_masks(path: str, image_hw: tuple[int, int]) -> np.ndarray:
    """(T, H, W) uint8 0/1 from a mask PNG of object ids 1..T (:mod:`siammask.label_png`'s rules)."""
    labels, ids = read_label_png(Path(path).expanduser())
    if labels.shape != tuple(image_hw):
        raise ValueError(f"mask {path!r} is {labels.shape[1]}x{labels.shape[0]}, the first frame is "
                         f"{image_hw[1]}x{image_hw[0]}")
    if not ids:
        raise ValueError(f"mask {path!r} has no non-zero pixel: nothing to track")
    return np.stack([(labels == i).astype(np.uint8) for i in ids])


def run(cfg: DictConfig, tracker: Tracker | None = None) -> TrackingOutputs:
    """Validate the inputs, load the tracker (unless one is given, e.g. by tests), track, write the outputs."""
    max_frames = check_max_frames(cfg.max_frames)
    output_dir = check_writable(cfg.output_dir)
    frames = open_frames(cfg.input, cfg.on_bad_frame)
    if cfg.bbox is None and cfg.mask is None:
        raise ValueError("give the targets on the first frame: bbox=[x,y,w,h] (or a list of boxes) and/or "
                         "mask=<mask PNG>")
    bbox = OmegaConf.to_container(cfg.bbox) if OmegaConf.is_config(cfg.bbox) else cfg.bbox
    boxes_xyxy = None if bbox is None else boxes_from_xywh(cast(list, bbox), frames.frame_hw, str(frames.path))
    masks = None if cfg.mask is None else read_first_masks(cfg.mask, frames.frame_hw)
    if tracker is None:
        ckpt_path = cfg.ckpt_path or default_checkpoint(cfg.ckpt_runs_dir)
        log.info("tracking with checkpoint %s", ckpt_path)
        tracker = load_tracker(ckpt_path, cfg.tracker, cfg.device, **runtime_options(cfg))
    outputs = track_video(frames, tracker, boxes_xyxy, output_dir, max_frames=max_frames,
                          overlay=cfg.overlay, progress=cfg.progress, masks=masks)
    backend = cfg.get("backend", "pytorch")
    threads = cfg.get("threads") or (torch.get_num_threads() if backend == "pytorch" else None)
    write_timing(output_dir / "timing.json", timing_summary(
        outputs.frame_seconds, outputs.stages, tracker.num_targets, backend, threads))
    return outputs


@command("track")
def main(cfg: DictConfig) -> None:
    """Exit code 130 after a Ctrl-C, with the outputs of the frames done written (as a shell reports SIGINT)."""
    outputs = run(cfg)
    if outputs.interrupted:
        print(f"Stopped by Ctrl-C after {outputs.num_frames} frames: {outputs.results_json} and "
              f"{outputs.results_json.parent / 'timing.json'} hold the frames done", flush=True)
        raise SystemExit(130)
    log.info("%d frames tracked: %s, %s, %s", outputs.num_frames, outputs.results_json, outputs.masks_dir,
             outputs.overlay_video)

