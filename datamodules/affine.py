"""Edge-coordinate affine warps for crops that :class:`siammask.geometry.CropWindow` cannot express alone.

The training crops add a per-axis scale jitter and an optional mirror to the square context window,
and the synthetic renderer places rotated sprites; both need the same image<->output convention as
``siammask.geometry`` (pixel ``i`` covers ``[i, i + 1)``), so boxes and masks stay aligned to the pixel.
"""

from __future__ import annotations

import cv2
import numpy as np


def warp_edge_affine(image: np.ndarray, affine_edge: np.ndarray, out_size: int | tuple[int, int],
                     pad_value: float | tuple[float, ...] = 0.0,
                     interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resample ``image`` (HW or HWC, any OpenCV dtype) through a 2x3 input->output affine in edge coordinates.

    ``out_size`` is a side or ``(width, height)``; pixels from outside the input get ``pad_value``.
    """
    m = np.asarray(affine_edge, dtype=np.float64).copy()
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5  # OpenCV samples at pixel centres
    out_wh = (out_size, out_size) if isinstance(out_size, (int, np.integer)) else tuple(out_size)
    border = (float(pad_value),) * 4 if np.isscalar(pad_value) else tuple(pad_value) + (0.0,) * (4 - len(pad_value))
    return cv2.warpAffine(image, m, out_wh, flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def box_through_affine(box_xyxy: np.ndarray, affine_edge: np.ndarray) -> np.ndarray:
    """Map an xyxy box through an axis-aligned (possibly mirrored) affine; corners come back ordered."""
    a = np.asarray(affine_edge, dtype=np.float64)
    if a[0, 1] != 0 or a[1, 0] != 0:
        raise ValueError(f"box_through_affine needs an axis-aligned affine, got {a.tolist()}")
    b = np.asarray(box_xyxy, dtype=np.float64)
    xs = a[0, 0] * b[[0, 2]] + a[0, 2]
    ys = a[1, 1] * b[[1, 3]] + a[1, 2]
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer ∘ inner`` (apply ``inner`` first)."""
    return np.concatenate([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)
