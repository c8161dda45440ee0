"""Regions as VOT defines them: polygons (rotated boxes) or rectangles, compared inside the image.

All coordinates are image pixels in the project's edge convention (pixel ``i`` covers ``[i, i + 1)``),
so a rectangle ``x, y, w, h`` is the polygon with corners ``x .. x + w`` and ``y .. y + h``. VOT result
files also carry three special single-number entries, kept here as plain ints. VOT2020 and later annotate (and
take results as) masks, written as ``m<x>,<y>,<w>,<h>,<run lengths>``: :class:`MaskRegion`, :func:`decode_rle`,
:func:`encode_rle`, compared by :func:`mask_overlap`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import shapely

from siammask.geometry import polygon_bounds_xyxy, polygon_mask

INIT, FAILURE, SKIP = 1, 2, 0
"""VOT baseline codes: tracker (re-)initialised, tracking failure, frame skipped after a failure."""


def polygon_from_values(values: np.ndarray | list[float]) -> np.ndarray:
    """A region line of VOT / pysot (4 numbers = ``x, y, w, h`` rectangle, 2K numbers = polygon) -> (K, 2)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 4:
        x, y, w, h = v
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    if v.size >= 6 and v.size % 2 == 0:
        return v.reshape(-1, 2)
    raise ValueError(f"a region needs 4 (x, y, w, h) or an even number >= 6 of polygon coordinates, got {v.size}")


def _shape(polygon: np.ndarray) -> shapely.Geometry:
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if p.shape[0] < 3 or not np.all(np.isfinite(p)):
        return shapely.Polygon()
    shape = shapely.Polygon(p)
    return shape if shape.is_valid else shapely.make_valid(shape)


def region_overlap(polygon_a: np.ndarray, polygon_b: np.ndarray, image_wh: tuple[float, float] | None = None) -> float:
    """Intersection over union of two polygons, both cut to the image ``[0, w] x [0, h]`` first.

    This is VOT's region overlap (the toolkit bounds both regions by the image so a prediction that
    leaves the frame is not rewarded for the part nobody can see). VOT rasterises; the exact areas here
    differ from it by at most a pixel row along the borders. Degenerate, non-finite or disjoint
    regions give 0, which the VOT protocol counts as a failure.
    """
    a, b = _shape(polygon_a), _shape(polygon_b)
    if image_wh is not None:
        frame = shapely.box(0.0, 0.0, float(image_wh[0]), float(image_wh[1]))
        a, b = a.intersection(frame), b.intersection(frame)
    union = a.union(b).area
    if union <= 0:
        return 0.0
    return float(a.intersection(b).area / union)


def init_box_from_polygon(polygon: np.ndarray) -> np.ndarray:
    """Axis-aligned box (xyxy, image pixels) that a tracker is initialised with from a VOT polygon.

    Centre = mean of the corners; the polygon's bounding box shrunk uniformly until its area equals the
    polygon's area (the rule of pysot / foolwood ``get_axis_aligned_bbox``, whose ``+ 1`` belongs to
    pixel-index coordinates and is absent in our edge coordinates). A rectangle maps to itself.
    """
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x0, y0, x1, y1 = polygon_bounds_xyxy(p)
    bounds_area = (x1 - x0) * (y1 - y0)
    area = _shape(p).area
    if not np.isfinite(bounds_area) or bounds_area <= 0 or area <= 0:
        raise ValueError(f"polygon {p.reshape(-1).tolist()} has no area")
    scale = np.sqrt(area / bounds_area)
    cx, cy = p.mean(axis=0)
    half_w, half_h = scale * (x1 - x0) / 2, scale * (y1 - y0) / 2
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])


@dataclass(frozen=True)
class MaskRegion:
    """A binary mask placed with its top-left pixel at ``(x, y)`` of the image: VOT's mask region.

    Kept cropped to where it lies (as the VOT toolkit keeps its ``Mask``) so a sequence's ground truth costs
    the size of the targets, not of the frames. A 0 x 0 mask is the empty region.
    """

    x: int
    y: int
    mask: np.ndarray  # (h, w) bool

    @classmethod
    def from_full(cls, mask: np.ndarray) -> MaskRegion:
        """The region of a full-image (H, W) mask, cropped to its foreground's bounds."""
        m = np.asarray(mask).astype(bool)
        cols, rows = np.flatnonzero(m.any(axis=0)), np.flatnonzero(m.any(axis=1))
        if cols.size == 0:
            return EMPTY_MASK
        return cls(int(cols[0]), int(rows[0]), m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])

    @property
    def is_empty(self) -> bool:
        return not self.mask.any()

    def paste(self, x0: int, y0: int, height: int, width: int) -> np.ndarray:
        """The (height, width) bool window of the image whose top-left pixel is ``(x0, y0)``, with this region
        drawn in (what lies outside the window is cut)."""
        window = np.zeros((height, width), dtype=bool)
        h, w = self.mask.shape
        left, top = max(self.x, x0), max(self.y, y0)
        right, bottom = min(self.x + w, x0 + width), min(self.y + h, y0 + height)
        if right > left and bottom > top:
            window[top - y0:bottom - y0, left - x0:right - x0] = \
                self.mask[top - self.y:bottom - self.y, left - self.x:right - self.x]
        return window

    def full(self, image_hw: tuple[int, int]) -> np.ndarray:
        """The (H, W) bool mask of the whole image."""
        return self.paste(0, 0, *image_hw)


EMPTY_MASK = MaskRegion(0, 0, np.zeros((0, 0), dtype=bool))


def decode_rle(values: list[int]) -> MaskRegion:
    """VOT's mask encoding ``x, y, w, h, r0, r1, ...`` -> region: a ``w`` x ``h`` mask at ``(x, y)`` read row by
    row as runs alternating 0 and 1, starting with 0 (so a mask whose first pixel is set starts with a 0 run).

    The runs must cover the ``w * h`` pixels exactly, as the toolkit's encoder (``vot/region/io.py``
    ``mask_to_rle``) writes them: a shorter or longer list is a damaged line, not a mask.
    """
    if len(values) < 5:
        raise ValueError(f"a mask needs x, y, w, h and at least one run length, got {len(values)} numbers")
    x, y, w, h, *runs = values
    if w < 0 or h < 0 or any(r < 0 for r in runs):
        raise ValueError(f"a mask's width, height and run lengths must not be negative, got w={w}, h={h}")
    if sum(runs) != w * h:
        raise ValueError(f"the run lengths add up to {sum(runs)} pixels, the {w}x{h} mask has {w * h}")
    bits = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    return MaskRegion(x, y, bits.reshape(h, w)) if w and h else EMPTY_MASK


def encode_rle(region: MaskRegion) -> list[int]:
    """The inverse of :func:`decode_rle` (``x, y, w, h`` and the runs of ``region``'s mask as given; the empty
    region is ``0, 0, 0, 0, 0`` as the toolkit writes it)."""
    h, w = region.mask.shape
    if not (h and w):
        return [0, 0, 0, 0, 0]
    flat = region.mask.reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return [region.x, region.y, w, h, *([0] if flat[0] else []), *runs]


def region_from_text(text: str) -> int | np.ndarray | MaskRegion:
    """One line of a VOT file: ``m<x>,<y>,<w>,<h>,<runs>`` (a mask), one number (a code such as ``INIT``), or
    4 / 2K numbers (rectangle / polygon, (K, 2)); a malformed line raises ``ValueError`` saying what is wrong."""
    text = text.strip()
    if text.startswith("m"):
        try:
            return decode_rle([int(f) for f in re.split(r"[,\s]+", text[1:]) if f])
        except ValueError as err:
            raise ValueError(f"bad mask {text[:40]!r}...: {err}") from err
    try:
        numbers = [float(f) for f in re.split(r"[,\s]+", text) if f]
    except ValueError as err:
        raise ValueError(f"not numbers: {text[:60]!r}") from err
    return int(numbers[0]) if len(numbers) == 1 else polygon_from_values(numbers)


def rasterise(region: int | np.ndarray | MaskRegion, image_hw: tuple[int, int]) -> MaskRegion:
    """Any region as a mask region (codes are empty; rectangles and polygons keep the pixels whose centre they
    cover, :func:`siammask.geometry.polygon_mask`)."""
    if isinstance(region, MaskRegion):
        return region
    if isinstance(region, (int, np.integer)):
        return EMPTY_MASK
    return MaskRegion.from_full(polygon_mask(region, image_hw))


def mask_overlap(a: MaskRegion, b: MaskRegion, image_hw: tuple[int, int]) -> float:
    """Pixel IoU of two mask regions inside the image, as the VOT toolkit takes it (``vot/region/raster.py``,
    ``calculate_overlap`` with the image as bounds): two empty regions are identical (1), otherwise pixels
    outside the image do not count and an empty union gives 0."""
    if a.is_empty and b.is_empty:
        return 1.0
    spans = [(r.x, r.y, r.x + r.mask.shape[1], r.y + r.mask.shape[0]) for r in (a, b) if not r.is_empty]
    x0, y0 = max(min(s[0] for s in spans), 0), max(min(s[1] for s in spans), 0)
    x1, y1 = min(max(s[2] for s in spans), image_hw[1]), min(max(s[3] for s in spans), image_hw[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    first, second = a.paste(x0, y0, y1 - y0, x1 - x0), b.paste(x0, y0, y1 - y0, x1 - x0)
    union = np.count_nonzero(first | second)
    return float(np.count_nonzero(first & second) / union) if union else 0.0
