"""YouTube-VOS 2018/2019 train set: palette PNG masks, object ids and their frames listed in meta.json.

The public validation set carries first-frame masks only, so, as the release does
(``data/ytb_vos/parse_ytb_vos.py``), the validation split is held out of the train folder: videos in
meta.json order from ``ytb_val_from`` on are ``split=val``, the ones before are ``split=train``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from .base import (
    BAD_ANNOTATION,
    EMPTY_VIDEO,
    DatasetReader,
    FrameJob,
    LayoutError,
    ObjectAnnotation,
    Scan,
    Skip,
    SkipFrame,
    chunked,
    frame_number,
    read_label_png,
    require,
)

LAYOUT = """<root>/train/meta.json  {"videos": {"<video>": {"objects": {"<id>": {"frames": ["00000"]}}}}}
<root>/train/JPEGImages/<video>/<frame>.jpg
<root>/train/Annotations/<video>/<frame>.png   (palette PNG, index = object id)"""


class YoutubeVosReader(DatasetReader):
    name = "ytb_vos"
    has_masks = True
    # release data/ytb_vos/parse_ytb_vos.py keeps a mask only if it has more than 1000 pixels
    # release data/ytb_vos: parse_ytb_vos.py drops masks under 1000 pixels, par_crop.py keeps resampled mask > 0.2
    defaults: ClassVar[dict[str, Any]] = {"min_mask_pixels": 1000, "mask_threshold": 0.2}

    def scan(self, root: Path, split: str) -> Scan:
        base = root / "train"
        meta_file = require(base / "meta.json", "YouTube-VOS meta.json", LAYOUT)
        image_root = require(base / "JPEGImages", "YouTube-VOS image folder", LAYOUT)
        mask_root = require(base / "Annotations", "YouTube-VOS annotation folder", LAYOUT)
        try:
            with open(meta_file) as f:
                videos = json.load(f)["videos"]
            items = list(videos.items())
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise LayoutError(f"{meta_file} is not a YouTube-VOS meta.json: {error!r}") from error
        first_val = int(self.settings.ytb_val_from)
        items = items[:first_val] if split == "train" else items[first_val:]
        scan = Scan(filtered=Counter())
        for video, entry in items:
            try:
                objects = {int(obj_id): {str(stem) for stem in obj["frames"]}
                           for obj_id, obj in entry["objects"].items()}
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                scan.skips.append((video, Skip(BAD_ANNOTATION, str(meta_file), f"video {video}: {error!r}")))
                continue
            stems = sorted({stem for frames in objects.values() for stem in frames})
            if not stems:
                scan.skips.append((video, Skip(EMPTY_VIDEO, str(meta_file),
                                               f"video {video} lists no annotated frame")))
                continue
            frames = [FrameJob(frame_number(stem, position), str(image_root / video / f"{stem}.jpg"),
                               {"mask": str(mask_root / video / f"{stem}.png"),
                                "objects": sorted(obj for obj, shown in objects.items() if stem in shown)})
                      for position, stem in enumerate(stems)]
            scan.jobs.extend(chunked(video, frames, self.settings.frames_per_chunk))
        return scan

    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        labels, _ = read_label_png(frame.annotation["mask"])
        if labels.shape != tuple(image_hw):
            raise SkipFrame(Skip(BAD_ANNOTATION, frame.annotation["mask"],
                                 f"mask is {labels.shape[1]}x{labels.shape[0]}, "
                                 f"image {image_hw[1]}x{image_hw[0]}"))
        return [ObjectAnnotation(obj, None, (labels == obj).astype("uint8"))
                for obj in frame.annotation["objects"]]
