"""ImageNet VID 2015 (videos, ``trackid`` per object) and DET (still images) from their Pascal-VOC XML files.

Boxes: ``xmin..xmax`` are the first and last pixel *inside* the object, 0-based (ILSVRC devkit; also the
reading of got-10k's ``datasets/vid.py``: width = xmax - xmin + 1), i.e. edge box ``[xmin, xmax + 1)``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from .base import (
    BAD_ANNOTATION,
    EMPTY_VIDEO,
    MISSING_ANNOTATION,
    DatasetReader,
    FrameJob,
    ObjectAnnotation,
    Scan,
    Skip,
    SkipFrame,
    chunked,
    frame_number,
    require,
)

LAYOUT = """<root> = the ILSVRC2015 folder:
<root>/Annotations/{task}/<split>/.../<name>.xml
<root>/Data/{task}/<split>/.../<name>.JPEG"""


class _ImagenetReader(DatasetReader):
    """Shared by VID and DET: the layouts differ only in how files group into videos."""

    has_masks = False
    task: str

    def _dirs(self, root: Path, split: str) -> tuple[Path, Path]:
        layout = LAYOUT.format(task=self.task)
        annotations = require(root / "Annotations" / self.task / split,
                              f"ImageNet {self.task} annotation folder", layout)
        data = require(root / "Data" / self.task / split, f"ImageNet {self.task} image folder", layout)
        return annotations, data

    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        xml = frame.annotation
        if not os.path.isfile(xml):
            raise SkipFrame(Skip(MISSING_ANNOTATION, xml, "XML annotation not found"))
        try:
            tree = ET.parse(xml).getroot()
        except ET.ParseError as error:
            raise SkipFrame(Skip(BAD_ANNOTATION, xml, f"XML does not parse: {error}")) from error
        size = tree.find("size")
        width, height = (None, None) if size is None else (size.findtext("width"), size.findtext("height"))
        if width and height:
            w, h = int(width), int(height)
            if (h, w) != tuple(image_hw):
                raise SkipFrame(Skip(BAD_ANNOTATION, xml,
                                     f"XML size {w}x{h} but image is {image_hw[1]}x{image_hw[0]}"))
        found: list[ObjectAnnotation | Skip] = []
        for position, obj in enumerate(tree.iter("object")):
            try:
                object_id = int(obj.findtext("trackid", default=str(position)))
                box = obj.find("bndbox")
                if box is None:
                    raise ValueError("no bndbox")
                # a missing coordinate is None: float() raises TypeError, reported below
                first = np.array([float(cast(str, box.findtext(k))) for k in ("xmin", "ymin")])
                last = np.array([float(cast(str, box.findtext(k))) for k in ("xmax", "ymax")])
            except (AttributeError, TypeError, ValueError) as error:
                found.append(Skip(BAD_ANNOTATION, xml,
                                  f"object {position}: unreadable trackid or bndbox ({error!r})"))
                continue
            found.append(ObjectAnnotation(object_id, np.concatenate([first, last + 1.0])))
        return found


class VidReader(_ImagenetReader):
    """One video per folder of XML files under ``Annotations/VID/<split>``; tracks by ``trackid``."""

    name = "vid"
    task = "VID"
    defaults: ClassVar[dict[str, Any]] = {"track_gaps": "release"}  # release data/vid/gen_json.py (prepare.py)

    def scan(self, root: Path, split: str) -> Scan:
        annotations, data = self._dirs(root, split)
        scan = Scan(filtered=Counter())
        for dirpath, dirnames, filenames in sorted(os.walk(annotations)):
            xmls = sorted(name for name in filenames if name.endswith(".xml"))
            rel = Path(dirpath).relative_to(annotations)
            video = f"{split}/{rel.as_posix()}"
            if not xmls:
                if not dirnames:
                    scan.skips.append((video, Skip(EMPTY_VIDEO, dirpath, "folder holds no XML annotation")))
                continue
            stems = [Path(name).stem for name in xmls]
            frames = [FrameJob(frame_number(stem, position), str(data / rel / f"{stem}.JPEG"),
                               os.path.join(dirpath, f"{stem}.xml")) for position, stem in enumerate(stems)]
            scan.jobs.extend(chunked(video, frames, self.settings.frames_per_chunk))
        return scan


class DetReader(_ImagenetReader):
    """Every XML file under ``Annotations/DET/<split>`` is one image; each object a one-frame track."""

    name = "det"
    still_images = True
    task = "DET"

    def scan(self, root: Path, split: str) -> Scan:
        annotations, data = self._dirs(root, split)
        scan = Scan(filtered=Counter())
        for dirpath, _, filenames in sorted(os.walk(annotations)):
            rel = Path(dirpath).relative_to(annotations)
            for name in sorted(n for n in filenames if n.endswith(".xml")):
                stem = Path(name).stem
                frame = FrameJob(0, str(data / rel / f"{stem}.JPEG"), os.path.join(dirpath, name))
                scan.jobs.extend(chunked(f"{split}/{(rel / stem).as_posix()}", [frame], 1))
        return scan
