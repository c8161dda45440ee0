"""Regions as VOT defines them: polygons (rotated boxes) or rectangles, compared inside the image.

All coordinates are image pixels in the project's edge convention (pixel ``i`` covers ``[i, i + 1)``),
so a rectangle ``x, y, w, h`` is the polygon with corners ``x .. x + w`` and ``y .. y + h``. VOT result
files also carry three special single-number entries, kept here as plain ints.
"""

from __future__ import annotations

import numpy as np
import shapely

from siammask.geometry import polygon_bounds_xyxy

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
