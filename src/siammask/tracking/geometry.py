"""The tracker's two crop geometries (``tracker.geometry``): where crops come from and where masks go back.

``exact`` uses :class:`~siammask.geometry.CropWindow`'s continuous affine in edge coordinates, the one training
crops use, so a crop and its mask paste-back are inverse to the pixel.

``release`` redoes the official release's arithmetic (foolwood/SiamMask ``tools/test.py``), so that its weights
give its tracks and published numbers:

- crop: the side is rounded to whole pixels, the first pixel is ``round(c - (side + 1) / 2)`` for a centre
  ``c``, the padding colour is the frame's mean truncated to integers, and the ``side`` x ``side`` patch is
  resized to the network's input with ``cv2.resize``;
- search boxes are decoded around the tracked centre (not the rounded crop's) at the unrounded scale
  ``instance_size / s_x``;
- candidates are ranked and decoded in the release's precision: numpy float32 (float32 network outputs and
  anchors; under the numpy 1.15 the release pins, float64 scalars such as ``scale_x`` or the target's padded side
  are cast to float32 when they meet a float32 array), the softmax in torch float32, the cosine window added in
  float64, the size learning rate and the state in float64 (:func:`candidate_dtype`,
  :func:`foreground_probability`, :meth:`ReleaseSearchWindow.box_to_image`);
- mask paste-back: the RoW's window starts at ``centre - round(s_x) / 2 + offset * round(s_x) / instance_size``
  and maps mask pixels to image pixels with ``x = (W - 1) / (W * k) * u + (W - 1) / W * x0`` (``k`` mask pixels
  per image pixel, ``W`` the image width, no half-pixel term), outside values reading -1.

Release windows report in the release's units: image coordinates of pixel indices; see
:func:`~siammask.tracking.postprocess.mask_shape` for the rotated box of pixel centres it goes with. One
difference is left on purpose: where the mask is too small, the release reports the tracked box before clamping
its centre to the image, the tracker the clamped one (they differ only while the box crosses the border).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch
from scipy.special import expit

from siammask.geometry import CropWindow, context_size, mean_colour
from siammask.tracking.postprocess import paste_region, support_bounds

GEOMETRIES = ("exact", "release")
# Precision of candidate ranking and box decoding. The release computes them in numpy float32 (tools/test.py
# siamese_track: float32 outputs and anchors); a float64 decode breaks its near-ties the other way.
CANDIDATE_DTYPES: dict[str, type[np.floating]] = {"exact": np.float64, "release": np.float32}
RELEASE_MASK_BORDER = -1.0  # release crop_back(padding=-1): mask values outside the RoW read -1 when warped


class MaskWindow(Protocol):
    """Where one RoW's mask lands in the image."""

    @property
    def centre_xy(self) -> tuple[float, float]: ...

    def support_bounds(self, values: np.ndarray, threshold: float,
                       image_hw: tuple[int, int]) -> tuple[int, int, int, int] | None: ...

    def paste_region(self, values: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray: ...


class SearchWindow(Protocol):
    """A search crop's place in the image: cropping, crop -> image points, and RoW mask windows."""

    @property
    def scale(self) -> float: ...

    def crop(self, image: np.ndarray, pad_colour: np.ndarray) -> np.ndarray: ...

    def points_to_image(self, points_xy_crop: np.ndarray) -> np.ndarray: ...

    def mask_window(self, cx_crop: float, cy_crop: float, size_crop: float, mask_size: int) -> MaskWindow: ...


# ----- exact -----
@dataclass(frozen=True)
class ExactMaskWindow:
    window: CropWindow

    @property
    def centre_xy(self) -> tuple[float, float]:
        return self.window.cx, self.window.cy

    def support_bounds(self, values: np.ndarray, threshold: float,
                       image_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
        return support_bounds(values, threshold, self.window, image_hw)

    def paste_region(self, values: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        return paste_region(values, self.window, bounds)


@dataclass(frozen=True)
class ExactSearchWindow:
    window: CropWindow

    @property
    def scale(self) -> float:
        return self.window.scale

    def crop(self, image: np.ndarray, pad_colour: np.ndarray) -> np.ndarray:
        return self.window.crop(image, tuple(float(v) for v in pad_colour))

    def points_to_image(self, points_xy_crop: np.ndarray) -> np.ndarray:
        return self.window.points_to_image(points_xy_crop)

    def mask_window(self, cx_crop: float, cy_crop: float, size_crop: float, mask_size: int) -> ExactMaskWindow:
        return ExactMaskWindow(self.window.sub_window(cx_crop, cy_crop, size_crop, mask_size))


# ----- release -----
def release_round(value: float) -> int:
    """Python's ``round`` (half to even), as the release rounds crop sides and origins."""
    return round(float(value))


def release_crop_origin(centre: float, side: int) -> int:
    """Index of a release crop's first pixel along one axis: ``round(centre - (side + 1) / 2)``."""
    return release_round(centre - (side + 1) / 2)


def release_pad_colour(image: np.ndarray) -> np.ndarray:
    """The release's padding colour: the per-channel mean stored into a uint8 image, i.e. truncated."""
    return np.asarray(mean_colour(image), dtype=np.float64).astype(np.uint8)


def release_crop(image: np.ndarray, centre_xy: tuple[float, float], side: int, out_size: int,
                 pad_colour: np.ndarray) -> np.ndarray:
    """The ``side`` x ``side`` pixels from :func:`release_crop_origin` (padded), resized to ``out_size``."""
    h, w = image.shape[:2]
    x0, y0 = release_crop_origin(centre_xy[0], side), release_crop_origin(centre_xy[1], side)
    if x0 >= 0 and y0 >= 0 and x0 + side <= w and y0 + side <= h:
        patch = image[y0:y0 + side, x0:x0 + side]
    else:
        patch = np.empty((side, side, image.shape[2]), dtype=image.dtype)
        patch[:] = pad_colour
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
        if ix1 > ix0 and iy1 > iy0:
            patch[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = image[iy0:iy1, ix0:ix1]
    return patch if side == out_size else cv2.resize(patch, (out_size, out_size))


def release_search_side(width: float, height: float, context_amount: float, exemplar_size: int,
                        instance_size: int) -> tuple[float, float]:
    """(s_x, scale_x): the unrounded search side in image pixels and the crop pixels per image pixel the release
    decodes boxes with, in the release's order of operations (rounding of the side happens at crop time)."""
    s_z = context_size(width, height, context_amount)
    scale_x = exemplar_size / s_z
    pad = (instance_size - exemplar_size) / 2 / scale_x
    return s_z + 2 * pad, scale_x


@dataclass(frozen=True)
class ReleaseMaskWindow:
    """A RoW's mask mapped into the image by the release's ``crop_back`` affine (OpenCV pixel-index coordinates)."""

    affine: np.ndarray  # 2x3 mask pixel -> image pixel
    mask_size: int

    @classmethod
    def of(cls, origin_xy: tuple[float, float], side: float, mask_size: int,
           image_hw: tuple[int, int]) -> ReleaseMaskWindow:
        """The RoW window starting at ``origin_xy`` (image pixels) with ``side``, pasted into an image of ``image_hw``."""
        h, w = image_hw
        k = mask_size / side  # mask pixels per image pixel
        a, b = (w - 1) / (w * k), (h - 1) / (h * k)  # grouped as crop_back's a * (x0 * k): OpenCV quantises
        return cls(np.array([[a, 0.0, a * (origin_xy[0] * k)], [0.0, b, b * (origin_xy[1] * k)]]), mask_size)

    @property
    def centre_xy(self) -> tuple[float, float]:
        centre = self.affine[:, :2] @ np.full(2, (self.mask_size - 1) / 2) + self.affine[:, 2]
        return float(centre[0]), float(centre[1])

    def support_bounds(self, values: np.ndarray, threshold: float,
                       image_hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """Image pixels within one mask pixel of a value above ``threshold`` (bilinear reads at most that far)."""
        above = values > threshold
        rows = np.flatnonzero(above.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(above.any(axis=0))
        (a, _, c), (_, b, d) = self.affine
        h, w = image_hw
        x0 = min(max(math.floor(a * (cols[0] - 1) + c), 0), w)
        y0 = min(max(math.floor(b * (rows[0] - 1) + d), 0), h)
        x1 = max(min(math.ceil(a * (cols[-1] + 1) + c) + 1, w), x0)
        y1 = max(min(math.ceil(b * (rows[-1] + 1) + d) + 1, h), y0)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def paste_region(self, values: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = bounds
        shifted = self.affine - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])
        return cv2.warpAffine(values, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=RELEASE_MASK_BORDER)


@dataclass(frozen=True)
class ReleaseSearchWindow:
    """The release's search crop around ``centre_xy``: side ``round(s_x)``, boxes decoded at ``instance / s_x``."""

    centre_xy: tuple[float, float]
    side: int  # round(s_x): the crop's side in image pixels
    scale: float  # the release's scale_x (crop pixels per image pixel, from the unrounded side)
    out_size: int
    image_hw: tuple[int, int]

    @property
    def origin_xy(self) -> tuple[float, float]:
        """Image position of the rounded crop's top-left corner as the mask paste-back places it (unrounded)."""
        return self.centre_xy[0] - self.side / 2, self.centre_xy[1] - self.side / 2

    def crop(self, image: np.ndarray, pad_colour: np.ndarray) -> np.ndarray:
        return release_crop(image, self.centre_xy, self.side, self.out_size, pad_colour)

    def points_to_image(self, points_xy_crop: np.ndarray) -> np.ndarray:
        return np.asarray(self.centre_xy) + (np.asarray(points_xy_crop, dtype=np.float64) - self.out_size / 2) / self.scale

    def box_to_image(self, deltas: np.ndarray, anchor_cxcywh_crop: np.ndarray) -> np.ndarray:
        """cxcywh (image pixels, float64) of a candidate, decoded as siamese_track does: in float32 on the anchor
        centred on the crop centre, divided by ``scale_x`` cast to float32, then added to the tracked centre."""
        centre_offset = np.array([self.out_size / 2, self.out_size / 2, 0.0, 0.0])
        anchor = (np.asarray(anchor_cxcywh_crop, dtype=np.float64) - centre_offset).astype(np.float32)
        d = np.asarray(deltas, dtype=np.float32)
        box = np.concatenate([d[:2] * anchor[2:] + anchor[:2], np.exp(d[2:]) * anchor[2:]]) / np.float32(self.scale)
        return np.concatenate([box[:2].astype(np.float64) + np.asarray(self.centre_xy), box[2:].astype(np.float64)])

    def mask_window(self, cx_crop: float, cy_crop: float, size_crop: float, mask_size: int) -> ReleaseMaskWindow:
        k = self.side / self.out_size  # image pixels per crop pixel of the rounded crop
        x0, y0 = self.origin_xy
        origin = (x0 + (cx_crop - size_crop / 2) * k, y0 + (cy_crop - size_crop / 2) * k)
        return ReleaseMaskWindow.of(origin, size_crop * k, mask_size, self.image_hw)


# ----- the two, behind one interface -----
def candidate_dtype(geometry: str) -> type[np.floating]:
    """The numpy dtype candidates are ranked and decoded in (see :data:`CANDIDATE_DTYPES`)."""
    return CANDIDATE_DTYPES[geometry]


def foreground_probability(geometry: str, score_logits: torch.Tensor, num_anchors: int) -> np.ndarray:
    """(T, k, S, S) foreground probability of (T, 2k, S, S) ``[background x k, foreground x k]`` logits.

    exact: the logistic of foreground - background in float64 (the two-class softmax); release: torch's float32
    softmax over the (candidates, 2) layout siamese_track builds, so each probability carries its rounding.
    """
    t, _, h, w = score_logits.shape
    if geometry == "release":
        pairs = score_logits.detach().float().cpu().reshape(t, 2, -1).transpose(1, 2)  # (T, k S S, [bg, fg])
        return torch.softmax(pairs, dim=-1)[..., 1].reshape(t, num_anchors, h, w).numpy()
    score = score_logits.double().cpu().numpy()
    return expit(score[:, num_anchors:] - score[:, :num_anchors])


def pad_colour(geometry: str, image: np.ndarray) -> np.ndarray:
    """Crop padding colour of a target started in ``image`` (exact: the mean; release: the mean truncated)."""
    return release_pad_colour(image).astype(np.float64) if geometry == "release" else np.asarray(mean_colour(image))


def template_crop(geometry: str, image: np.ndarray, centre_xy: np.ndarray, size_wh: np.ndarray,
                  context_amount: float, exemplar_size: int, pad: np.ndarray) -> np.ndarray:
    """The exemplar crop of a target (paper §3.1's context square)."""
    side = context_size(size_wh[0], size_wh[1], context_amount)
    cx, cy = float(centre_xy[0]), float(centre_xy[1])
    if geometry == "release":
        return release_crop(image, (cx, cy), release_round(side), exemplar_size, pad.astype(np.uint8))
    return CropWindow(cx, cy, side, exemplar_size).crop(image, tuple(pad))


def search_window(geometry: str, centre_xy: np.ndarray, size_wh: np.ndarray, context_amount: float,
                  exemplar_size: int, instance_size: int, image_hw: tuple[int, int]) -> SearchWindow:
    """The search region around a target, the exemplar's context square scaled by instance / exemplar."""
    if geometry == "release":
        s_x, scale = release_search_side(float(size_wh[0]), float(size_wh[1]), context_amount, exemplar_size,
                                         instance_size)
        return ReleaseSearchWindow((float(centre_xy[0]), float(centre_xy[1])), release_round(s_x), scale,
                                   instance_size, image_hw)
    side = context_size(size_wh[0], size_wh[1], context_amount) * instance_size / exemplar_size
    return ExactSearchWindow(CropWindow(float(centre_xy[0]), float(centre_xy[1]), side, instance_size))
