"""GOT-10k (Huang et al., TPAMI 2019) training and validation splits: one target per sequence, boxes per frame.

The target is not visible where ``absence.label`` is 1 or ``cover.label`` (the visible share of the target in
eighths) is 0: the reading of the GOT-10k toolkit and of pytracking's training reader (``target_visible =
~absence & (cover > 0)``). ``cut_by_image.label`` (target partly outside the image: prepare clips the box) and
``meta_info.ini`` (class, motion) are not needed for training. The test split gives the first box only, so it
cannot be prepared.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .base import MISSING_ANNOTATION, LayoutError, Scan, Skip, require
from .single_target import SingleTargetReader, UnusableVideo, read_boxes_xywh, read_frame_labels

LAYOUT = """<root> = the GOT-10k folder:
<root>/{split}/list.txt                       the sequence names, one per line
<root>/{split}/<sequence>/00000001.jpg ...    frames
<root>/{split}/<sequence>/groundtruth.txt     x,y,w,h per frame
<root>/{split}/<sequence>/absence.label       1 where the target is absent, one per frame
<root>/{split}/<sequence>/cover.label         visible share of the target 0..8, one per frame"""
ABSENCE_FILE, COVER_FILE, BOX_FILE = "absence.label", "cover.label", "groundtruth.txt"


class Got10kReader(SingleTargetReader):
    name = "got10k"

    def scan(self, root: Path, split: str) -> Scan:
        layout = LAYOUT.format(split=split)
        listing = require(root / split / "list.txt", f"GOT-10k {split} sequence list", layout)
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if not names:
            raise LayoutError(f"{listing} lists no sequence\nexpected layout:\n{layout}")
        scan = Scan(filtered=Counter())
        for name in names:
            folder = root / split / name
            try:
                if not folder.is_dir():
                    raise UnusableVideo(Skip(MISSING_ANNOTATION, str(folder), f"sequence listed in {listing} "
                                                                              "has no folder"))
                boxes = read_boxes_xywh(folder / BOX_FILE)
                absent = read_frame_labels(folder / ABSENCE_FILE, len(boxes)) != 0
                covered = read_frame_labels(folder / COVER_FILE, len(boxes)) == 0
            except UnusableVideo as unusable:
                scan.skips.append((name, unusable.skip))
                continue
            numbers = range(1, len(boxes) + 1)
            self.add_video(scan, name, [str(folder / f"{n:08d}.jpg") for n in numbers], numbers, boxes,
                           absent | covered)
        return scan
