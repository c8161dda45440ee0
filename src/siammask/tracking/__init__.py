"""Tracking with a trained SiamMask: the tracker, its config, frame reading, checkpoint loading, video output."""

from siammask.tracking.io import FrameSource, open_frames, read_image_rgb
from siammask.tracking.loading import default_checkpoint, latest_checkpoint, load_tracker
from siammask.tracking.tracker import StageTimes, Tracker, TrackResult
from siammask.tracking.tracker_config import BOX_MODES, TrackerConfig

__all__ = ["BOX_MODES", "FrameSource", "StageTimes", "TrackResult", "Tracker", "TrackerConfig",
           "default_checkpoint", "latest_checkpoint", "load_tracker", "open_frames", "read_image_rgb"]
