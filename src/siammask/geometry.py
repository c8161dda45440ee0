"""Numpy geometry: box formats, polygons of boxes, the tight box of a mask, and the square context crop shared by
data preparation, pair sampling, tracking and evaluation (the torch box functions of training live in
:mod:`siammask.torch_boxes`).

Coordinate convention (everywhere in the project): continuous *edge* coordinates, pixel ``i``
covers ``[i, i + 1)``, so a box ``xyxy`` has width ``x1 - x0`` and pixel centres sit at ``i + 0.5``.
One convention for boxes, masks and crops means a box and a mask cropped with the same
:class:`CropWindow` stay aligned to the pixel, which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib.path import Path as MplPath

BoxArray = np.ndarray  # (..., 4)


def xywh_to_xyxy(box_xywh: BoxArray) -> BoxArray:
    b = np.asarray(box_xywh, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)


def xyxy_to_xywh(box_xyxy: BoxArray) -> BoxArray:
    b = np.asarray(box_xyxy, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., 2:4] - b[..., :2]], axis=-1)


def xyxy_to_cxcywh(box_xyxy: BoxArray) -> BoxArray:
    b = np.asarray(box_xyxy, dtype=np.float64)
    return np.concatenate([(b[..., :2] + b[..., 2:4]) / 2, b[..., 2:4] - b[..., :2]], axis=-1)


def cxcywh_to_xyxy(box_cxcywh: BoxArray) -> BoxArray:
    b = np.asarray(box_cxcywh, dtype=np.float64)
    return np.concatenate([b[..., :2] - b[..., 2:4] / 2, b[..., :2] + b[..., 2:4] / 2], axis=-1)


def iou_xyxy(a_xyxy: BoxArray, b_xyxy: BoxArray) -> np.ndarray:
    """Intersection over union of boxes broadcast against each other (0 where both are empty)."""
    a = np.asarray(a_xyxy, dtype=np.float64)
    b = np.asarray(b_xyxy, dtype=np.float64)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = np.clip(a[..., 2] - a[..., 0], 0, None) * np.clip(a[..., 3] - a[..., 1], 0, None)
    area_b = np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def check_box_xyxy(box_xyxy: BoxArray, image_hw: tuple[int, int] | None = None, what: str = "box") -> np.ndarray:
    """Validate a box where it enters, so a bad box fails with its value instead of as NaN later."""
    b = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise ValueError(f"{what} must be 4 finite numbers, got {box_xyxy!r}")
    if b[2] <= b[0] or b[3] <= b[1]:
        raise ValueError(f"{what} has zero or negative size: xyxy={b.tolist()}")
    if image_hw is not None:
        h, w = image_hw
        if b[2] <= 0 or b[3] <= 0 or b[0] >= w or b[1] >= h:
            raise ValueError(f"{what} xyxy={b.tolist()} lies outside the {w}x{h} image")
    return b


def mask_to_box_xyxy(mask: np.ndarray) -> np.ndarray:
    """Tight box (xyxy, pixels of the mask) of a non-empty (H, W) mask: pixel ``i`` spans ``[i, i + 1)``."""
    m = np.asarray(mask)
    cols, rows = np.flatnonzero(m.any(axis=0)), np.flatnonzero(m.any(axis=1))
    if cols.size == 0:
        raise ValueError("an empty mask has no box")
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float64)


def polygon_from_box_xyxy(box_xyxy: BoxArray) -> np.ndarray:
    """(4, 2) corners of an axis-aligned box, clockwise in image coordinates from the top-left (VOT polygon order)."""
    x0, y0, x1, y1 = np.asarray(box_xyxy, dtype=np.float64).reshape(4)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def polygon_mask(polygon: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """Rasterise a polygon (image pixels) to an (H, W) uint8 0/1 mask: a pixel is in if its centre is.

    Used where a tracker reports no mask (box-only models, the static-box baseline) but a
    segmentation benchmark needs one.
    """
    h, w = image_hw
    mask = np.zeros((h, w), dtype=np.uint8)
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if p.shape[0] < 3 or not np.all(np.isfinite(p)):
        return mask
    x0, y0 = np.maximum(np.floor(p.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(p.max(axis=0)).astype(int), [w, h])
    if x1 <= x0 or y1 <= y0:
        return mask
    xs, ys = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
    inside = MplPath(p).contains_points(np.stack([xs.ravel(), ys.ravel()], axis=1))
    mask[y0:y1, x0:x1] = inside.reshape(ys.shape)
    return mask


def polygon_bounds_xyxy(polygon: np.ndarray) -> np.ndarray:
    """Axis-aligned bounding box of a polygon or point set (exact for rectangles, so OTB boxes survive the round
    trip)."""
    p = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    return np.concatenate([p.min(axis=0), p.max(axis=0)])


def context_size(width: float, height: float, context_amount: float = 0.5) -> float:
    """Side of the square exemplar region: sqrt((w + p)(h + p)) with p = context * (w + h) (SiamFC, §3.1)."""
    pad = context_amount * (width + height)
    return float(np.sqrt((width + pad) * (height + pad)))


def mean_colour(image_hwc: np.ndarray) -> tuple[float, ...]:
    """Per-channel mean: the padding colour for crops that leave the image (SiamFC)."""
    channels = image_hwc.shape[-1] if image_hwc.ndim == 3 else 1
    return tuple(float(v) for v in cv2.mean(image_hwc)[:channels])


@dataclass(frozen=True)
class CropWindow:
    """A square region of side ``size`` centred at (``cx``, ``cy``) in image pixels, resampled to ``out_size``.

    The forward map image -> crop is ``u = (x - (cx - size / 2)) * out_size / size``; both boxes and
    pixels go through it, so :meth:`crop`, :meth:`box_to_crop` and :meth:`paste_back` agree exactly.
    """

    cx: float
    cy: float
    size: float
    out_size: int

    @classmethod
    def around_box(cls, box_xyxy: BoxArray, out_size: int, context_amount: float = 0.5,
                   scale_to_exemplar: float = 1.0) -> CropWindow:
        """The paper's crop: the context square of the box, enlarged by ``scale_to_exemplar``.

        Use ``scale_to_exemplar = instance_size / exemplar_size`` (255 / 127) for a search region that
        shows the target at the same scale as the exemplar.
        """
        cx, cy, w, h = xyxy_to_cxcywh(check_box_xyxy(box_xyxy))
        return cls(float(cx), float(cy), context_size(w, h, context_amount) * scale_to_exemplar, out_size)

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return self.out_size / self.size

    @property
    def origin_xy(self) -> tuple[float, float]:
        """Image position (edge coordinates) of the crop's top-left corner, where crop pixel coordinates start."""
        return self.cx - self.size / 2, self.cy - self.size / 2

    def affine(self) -> np.ndarray:
        """2x3 image->crop matrix in edge coordinates."""
        k = self.scale
        x0, y0 = self.origin_xy
        return np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])

    def box_to_crop(self, box_xyxy: BoxArray) -> np.ndarray:
        b = np.asarray(box_xyxy, dtype=np.float64)
        k = self.scale
        return (b - np.array(self.origin_xy * 2)) * k

    def box_to_image(self, box_xyxy_crop: BoxArray) -> np.ndarray:
        b = np.asarray(box_xyxy_crop, dtype=np.float64)
        return b / self.scale + np.array(self.origin_xy * 2)

    def points_to_image(self, points_xy_crop: np.ndarray) -> np.ndarray:
        p = np.asarray(points_xy_crop, dtype=np.float64)
        return p / self.scale + np.array(self.origin_xy)

    def crop(self, image: np.ndarray, pad_value: float | tuple[float, ...] = 0.0,
             interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Resample the window from an HWC or HW image; outside pixels get ``pad_value``."""
        return warp_edge_affine(image, self.affine(), self.out_size, pad_value, interpolation)

    def paste_back(self, crop: np.ndarray, image_hw: tuple[int, int], pad_value: float = 0.0,
                   interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Warp a crop-sized array (e.g. a mask probability map) back into the image frame."""
        h, w = image_hw
        return warp_edge_affine(crop, cv2.invertAffineTransform(self.affine()), (w, h), pad_value, interpolation)

    def sub_window(self, cx_crop: float, cy_crop: float, size_crop: float, out_size: int) -> CropWindow:
        """A window given in this crop's pixels, expressed in image pixels (e.g. a RoW of the search crop)."""
        origin_x, origin_y = self.origin_xy
        return CropWindow(origin_x + cx_crop / self.scale, origin_y + cy_crop / self.scale, size_crop / self.scale,
                          out_size)


def warp_edge_affine(image: np.ndarray, affine_edge: np.ndarray, out_size: int | tuple[int, int],
                     pad_value: float | tuple[float, ...] = 0.0,
                     interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Resample ``image`` (HW or HWC) through a 2x3 input->output affine given in edge coordinates.

    ``out_size`` is a side or ``(width, height)``; pixels from outside the input get ``pad_value``.
    Every warp of the project goes through here, so all share one pixel convention.
    """
    m = np.asarray(affine_edge, dtype=np.float64).copy()
    m[:, 2] += 0.5 * (m[:, 0] + m[:, 1]) - 0.5  # OpenCV samples at pixel centres: x_cv = x_edge - 0.5
    out_wh = (out_size, out_size) if isinstance(out_size, (int, np.integer)) else tuple(out_size)
    border: tuple[float, ...]
    if isinstance(pad_value, (int, float, np.number)):
        border = (float(pad_value),) * 4
    else:
        border = tuple(pad_value) + (0.0,) * (4 - len(pad_value))
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


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``outer ∘ inner`` (apply ``inner`` first)."""
    return np.concatenate([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)
