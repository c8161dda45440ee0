"""From a RoW's mask to image-space outputs: the warp back, the binary mask and its box / rotated box.

Work is confined to the image pixels the mask can reach (the warp and the contour search), which keeps
post-processing a small fraction of a frame even for large images. Geometry is in the project's edge
coordinates: a mask pixel ``(x, y)`` is the unit square ``[x, x + 1) x [y, y + 1)``, so a box or
rectangle around a mask encloses whole pixels (a mask covering columns 3..7 has ``x0 = 3, x1 = 8``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siammask.geometry import CropWindow, polygon_bounds_xyxy

# Corners of the unit square of a pixel at its integer index, in edge coordinates.
_PIXEL_CORNERS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)


@dataclass(frozen=True)
class MaskShape:
    """Outline geometry of a mask's largest connected part, in image pixels (edge coordinates)."""

    minmax_xyxy: np.ndarray  # (4,) axis-aligned bounds
    rotated_box: np.ndarray  # (4, 2) corners of the minimum-area rectangle (cv2.boxPoints order)


def support_bounds(values_crop: np.ndarray, threshold: float, window: CropWindow,
                   image_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Bounds of the image pixels where the warped-back map can exceed ``threshold`` (>= 0); None if nowhere.

    Bilinear warping averages the (at most 4) crop pixels nearest to where an image pixel lands, and
    pixels outside the crop read 0: an image pixel can exceed the threshold only within one crop pixel of
    a crop pixel that does. Warping only there gives the same binary mask for a fraction of the work.
    """
    above = values_crop > threshold
    rows = np.flatnonzero(above.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(above.any(axis=0))
    left, top = window.origin_xy
    k = window.scale
    bounds = _clipped_bounds(left + (cols[0] - 1) / k, top + (rows[0] - 1) / k, left + (cols[-1] + 2) / k,
                             top + (rows[-1] + 2) / k, image_hw)
    return bounds if bounds[2] > bounds[0] and bounds[3] > bounds[1] else None


def _clipped_bounds(x0: float, y0: float, x1: float, y1: float,
                    image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    h, w = image_hw
    left = min(max(math.floor(x0), 0), w)
    top = min(max(math.floor(y0), 0), h)
    return left, top, max(min(math.ceil(x1), w), left), max(min(math.ceil(y1), h), top)


def paste_region(values_crop: np.ndarray, window: CropWindow, bounds: tuple[int, int, int, int]) -> np.ndarray:
    """Warp a crop-sized float map back into the image, computed only over ``bounds`` (x0, y0, x1, y1).

    Equal to ``window.paste_back(values_crop, image_hw)[y0:y1, x0:x1]``: the same exact inverse
    affine, expressed in a frame whose origin is the region's corner.
    """
    x0, y0, x1, y1 = bounds
    shifted = CropWindow(window.cx - x0, window.cy - y0, window.size, window.out_size)
    return shifted.paste_back(values_crop, (y1 - y0, x1 - x0))


def mask_shape(binary: np.ndarray, offset_xy: tuple[int, int] = (0, 0), min_contour_area: float = 0.0,
               pixel_corners: bool = True) -> MaskShape | None:
    """Bounds and minimum-area rectangle of the largest outer contour of a uint8 0/1 mask.

    Returns None when no contour encloses more than ``min_contour_area`` pixels (the release's guard
    against tracking a speck: it then reports the tracked box). The area is OpenCV's polygon area of
    the contour through pixel centres, as the release measures it. ``offset_xy`` places a mask that
    covers only part of the image. The rectangle encloses the pixels' squares (``pixel_corners``) or, as the
    release fits it, the boundary pixels' indices (1 pixel smaller each way).
    """
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    areas = [cv2.contourArea(c) for c in contours]
    best = int(np.argmax(areas))
    if areas[best] <= min_contour_area:
        return None
    pixels = contours[best].reshape(-1, 2).astype(np.float32) + np.asarray(offset_xy, dtype=np.float32)
    # The shape is the union of pixel squares: its hull is the hull of the boundary pixels' corners.
    corners = (pixels[:, None, :] + _PIXEL_CORNERS[None]).reshape(-1, 2)
    rotated = cv2.boxPoints(cv2.minAreaRect(corners if pixel_corners else pixels)).astype(np.float64)
    return MaskShape(polygon_bounds_xyxy(corners), rotated)
