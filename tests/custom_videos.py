"""Small folders in the custom layout (docs/custom_data.md), rendered by the synthetic generator."""

from __future__ import annotations

from pathlib import Path

from siammask.datamodules.readers.custom import write_custom_video
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.geometry import xyxy_to_xywh


def write_custom_videos(root: Path, videos: int = 4, frames: int = 5, masks: bool = True, boxes: bool = True,
                        size: tuple[int, int] = (160, 120)) -> Path:
    """``videos`` folders ``video0`` ... of ``frames`` frames with two objects each (ids 1 and 2): label maps
    from the generator's masks and/or boxes.txt with its boxes."""
    generator = SyntheticVideos(num_videos=videos, num_frames=max(frames, 2), image_size=size, num_targets=2,
                                seed=7)
    for v in range(videos):
        images, boxes_xyxy, target_masks = generator.sequence(v)
        labels = {}
        for f in range(frames):
            label_map = target_masks[f, 0] * 0
            for k in range(target_masks.shape[1]):
                label_map[target_masks[f, k] > 0] = k + 1
            labels[f] = label_map
        box_rows = {f: {k + 1: xyxy_to_xywh(boxes_xyxy[f, k]).tolist() for k in range(boxes_xyxy.shape[1])}
                    for f in range(frames)}
        write_custom_video(root / f"video{v}", images[:frames], labels if masks else None,
                           box_rows if boxes else None)
    return root
