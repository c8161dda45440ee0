"""LaSOT (Fan et al., CVPR 2019) training split: 1120 sequences, 16 in each of 70 categories.

The official split names the 280 test sequences (protocol II, ``lasot_test_sequences.txt`` beside this file);
every other sequence found under the root is training data, as pytracking's LaSOT training reader divides them.
The target is not visible where ``full_occlusion.txt`` or ``out_of_view.txt`` says 1 (pytracking:
``target_visible = ~full_occlusion & ~out_of_view``). ``nlp.txt`` (the language description) is not read.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

from .base import MISSING_IMAGE, LayoutError, Scan, Skip
from .single_target import (
    SingleTargetReader,
    UnusableVideo,
    read_boxes_xywh,
    read_frame_labels,
    require_folder,
)

LAYOUT = """<root> = the LaSOT folder (LaSOTBenchmark) of category folders:
<root>/<category>/<category>-<n>/img/00000001.jpg ...   frames
<root>/<category>/<category>-<n>/groundtruth.txt        x,y,w,h per frame
<root>/<category>/<category>-<n>/full_occlusion.txt     one line: 0/1 per frame, 1 = fully occluded
<root>/<category>/<category>-<n>/out_of_view.txt        one line: 0/1 per frame, 1 = out of view"""
TEST_SPLIT_FILE = "lasot_test_sequences.txt"
BOX_FILE, OCCLUSION_FILE, OUT_OF_VIEW_FILE = "groundtruth.txt", "full_occlusion.txt", "out_of_view.txt"


def official_test_split() -> frozenset[str]:
    """The names of the official test sequences (``airplane-1``, ...)."""
    text = resources.files(__package__).joinpath(TEST_SPLIT_FILE).read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def sequence_folders(root: Path) -> list[Path]:
    """``<category>/<category>-<n>`` folders under ``root``, by category, then number."""
    found = []
    for category in root.iterdir():
        for sequence in category.iterdir() if category.is_dir() else ():
            prefix, _, number = sequence.name.rpartition("-")
            if sequence.is_dir() and prefix == category.name and number.isdigit():
                found.append((category.name, int(number), sequence))
    return [sequence for *_, sequence in sorted(found)]


class LasotReader(SingleTargetReader):
    name = "lasot"

    def scan(self, root: Path, split: str) -> Scan:
        if split != "train":
            raise LayoutError(f"LaSOT has a train and a test split, no split={split}: prepare split=train "
                              "(validate on GOT-10k val, dataset=got10k split=val)")
        require_folder(root, "LaSOT folder", LAYOUT)
        sequences = sequence_folders(root)
        if not sequences:
            raise LayoutError(f"no LaSOT sequence folder <category>/<category>-<n> under {root}\n"
                              f"expected layout:\n{LAYOUT}")
        held_out = official_test_split()
        scan = Scan(filtered=Counter())
        for folder in sequences:
            if folder.name in held_out:
                continue
            video = f"{folder.parent.name}/{folder.name}"
            try:
                if not (folder / "img").is_dir():
                    raise UnusableVideo(Skip(MISSING_IMAGE, str(folder / "img"), "frame folder not found"))
                boxes = read_boxes_xywh(folder / BOX_FILE)
                occluded = read_frame_labels(folder / OCCLUSION_FILE, len(boxes)) != 0
                out_of_view = read_frame_labels(folder / OUT_OF_VIEW_FILE, len(boxes)) != 0
            except UnusableVideo as unusable:
                scan.skips.append((video, unusable.skip))
                continue
            numbers = range(1, len(boxes) + 1)
            self.add_video(scan, video, [str(folder / "img" / f"{n:08d}.jpg") for n in numbers], numbers, boxes,
                           occluded | out_of_view)
        return scan
