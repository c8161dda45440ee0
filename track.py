"""Track objects through a video from boxes on its first frame; writes results.json, masks and an overlay.

    python track.py input=<video file | folder of frames> bbox=[x,y,w,h] [ckpt_path=<ckpt>] [output_dir=<dir>]

See conf/track.yaml for the options and siammask.tracking.video for the output formats.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from siammask.tracking import Tracker, latest_checkpoint, load_tracker, open_frames
from siammask.tracking.video import TrackingOutputs, boxes_from_xywh, track_video

log = logging.getLogger(__name__)


def run(cfg: DictConfig, tracker: Tracker | None = None) -> TrackingOutputs:
    """Validate the inputs, load the tracker (unless one is given, e.g. by tests), track, write the outputs."""
    frames = open_frames(cfg.input)
    boxes_xyxy = boxes_from_xywh(OmegaConf.to_container(cfg.bbox) if OmegaConf.is_config(cfg.bbox) else cfg.bbox,
                                 frames.frame_hw, str(frames.path))
    if tracker is None:
        ckpt_path = cfg.ckpt_path or latest_checkpoint(cfg.ckpt_runs_dir)
        log.info("tracking with checkpoint %s", ckpt_path)
        tracker = load_tracker(ckpt_path, cfg.tracker, cfg.device)
    return track_video(frames, tracker, boxes_xyxy, Path(cfg.output_dir), max_frames=cfg.max_frames,
                       overlay=cfg.overlay, progress=cfg.progress)


@hydra.main(version_base="1.3", config_path="conf", config_name="track")
def main(cfg: DictConfig) -> None:
    outputs = run(cfg)
    log.info("%d frames tracked: %s, %s, %s", outputs.num_frames, outputs.results_json, outputs.masks_dir,
             outputs.overlay_video)


if __name__ == "__main__":
    main()
