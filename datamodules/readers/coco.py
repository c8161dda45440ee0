"""COCO 2017 instances: every annotation is a one-frame track with a mask (polygon or RLE); crowd annotations
only with ``keep_crowd`` (the release's choice, the default)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from siammask.geometry import xywh_to_xyxy

from .base import (
    BAD_ANNOTATION,
    CROWD,
    NO_OBJECTS,
    DatasetReader,
    FrameJob,
    LayoutError,
    ObjectAnnotation,
    Scan,
    Skip,
    SkipFrame,
    chunked,
    require,
)

LAYOUT = """<root>/annotations/instances_train2017.json
<root>/annotations/instances_val2017.json
<root>/train2017/*.jpg
<root>/val2017/*.jpg"""


class CocoReader(DatasetReader):
    name = "coco"
    has_masks = True
    still_images = True

    def scan(self, root: Path, split: str) -> Scan:
        subset = f"{split}2017"
        annotation_file = require(root / "annotations" / f"instances_{subset}.json", "COCO annotation file",
                                  LAYOUT)
        image_dir = require(root / subset, "COCO image folder", LAYOUT)
        try:
            with open(annotation_file) as f:
                dataset = json.load(f)
            images = dataset["images"]
            annotations = dataset["annotations"]
        except (ValueError, KeyError, TypeError) as error:
            raise LayoutError(f"{annotation_file} is not a COCO instances file: {error!r}") from error
        by_image = defaultdict(list)
        scan = Scan(filtered=Counter())
        for ann in annotations:
            if ann.get("iscrowd", 0) and not self.settings.keep_crowd:
                scan.filtered[CROWD] += 1
                continue
            by_image[ann.get("image_id")].append(
                {key: ann.get(key) for key in ("id", "bbox", "segmentation")})
        for image in sorted(images, key=lambda im: im["file_name"]):
            anns = by_image.get(image["id"])
            if not anns:
                scan.filtered[NO_OBJECTS] += 1
                continue
            video = f"{subset}/{Path(image['file_name']).stem}"
            frame = FrameJob(0, str(image_dir / image["file_name"]),
                             {"file": str(annotation_file), "height": image["height"],
                              "width": image["width"], "anns": anns})
            scan.jobs.extend(chunked(video, [frame], 1))
        return scan

    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        info = frame.annotation
        h, w = info["height"], info["width"]
        if (h, w) != tuple(image_hw):
            raise SkipFrame(Skip(BAD_ANNOTATION, frame.image,
                                 f"image is {image_hw[1]}x{image_hw[0]} but {info['file']} says {w}x{h}"))
        found: list[ObjectAnnotation | Skip] = []
        for ann in info["anns"]:
            where = f"{info['file']} annotation id {ann['id']}"
            try:
                mask = _decode_segmentation(ann["segmentation"], h, w)
                box_xyxy = xywh_to_xyxy(np.asarray(ann["bbox"], dtype=np.float64))
            except (ValueError, TypeError, KeyError, IndexError) as error:
                found.append(Skip(BAD_ANNOTATION, where, f"unreadable segmentation or bbox: {error!r}"))
                continue
            found.append(ObjectAnnotation(int(ann["id"]), box_xyxy, mask))
        return found


def _decode_segmentation(segmentation, height: int, width: int) -> np.ndarray:
    """HW uint8 {0, 1} mask from COCO polygons, uncompressed RLE or compressed RLE."""
    if isinstance(segmentation, list):
        if not segmentation:
            raise ValueError("empty polygon list")
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return np.ascontiguousarray(mask_utils.decode(rle), dtype=np.uint8)
