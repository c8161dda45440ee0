"""Photometric augmentation of a template/search pair (albumentations).

Geometry (crop jitter, flip) is not done here: it is folded into the crop affine in
:mod:`siammask.datamodules.sampler`, so image, mask and box go through one and the same transform. What is
left is image-only, and follows the official SiamMask training augmentation
(foolwood/SiamMask ``datasets/siam_mask_dataset.py`` with ``experiments/siammask_base/config.json``):

* grey-scale, decided once per pair so template and search agree (release ``gray: 0.25``);
* the release's colour offset ``rgbVar @ N(0, I)``, drawn independently for each crop, always on;
* blur on the search crop only (release ``search.blur: 0.18``; the template has none): motion blur
  (``blur_kernel="motion"``) or the release's own kernel (``"release"``, :class:`ReleaseCrossBlur`), which
  leaves most of the 18 % unblurred: ~2.8 % of search crops end up blurred, almost all with 3x3 / 5x5 kernels.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np

# Rows R, G, B of the release's ``rgbVar`` (its BGR->RGB reversal undone), an ImageNet-PCA based
# lighting offset in 0-255 units: mostly a common brightness shift of std ~8 levels.
RELEASE_COLOUR_MATRIX_RGB = (
    (-0.55919361, 0.98062831, -0.41940627),
    (1.72091413, 0.19879334, -1.82968581),
    (4.64467907, 4.73710203, 4.88324118),
)


class ColourOffset(A.ImageOnlyTransform):
    """Add ``matrix @ z`` (z ~ N(0, I)) to every pixel of an RGB uint8 image, saturating at 0 and 255."""

    def __init__(self, matrix_rgb: Sequence[Sequence[float]] = RELEASE_COLOUR_MATRIX_RGB, p: float = 1.0):
        super().__init__(p=p)
        self.matrix_rgb = np.asarray(matrix_rgb, dtype=np.float64)
        if self.matrix_rgb.shape != (3, 3):
            raise ValueError(f"colour matrix must be 3x3, got shape {self.matrix_rgb.shape}")

    def get_params(self) -> dict[str, np.ndarray]:
        return {"offset_rgb": self.matrix_rgb @ self.random_generator.standard_normal(3)}

    def apply(self, img: np.ndarray, offset_rgb: np.ndarray, **params) -> np.ndarray:
        return cv2.add(img, tuple(float(v) for v in offset_rgb) + (0.0,))


class ReleaseCrossBlur(A.ImageOnlyTransform):
    """The release's blur kernel (foolwood/SiamMask ``datasets/siam_mask_dataset.py``, ``Augmentation.blur_image``).

    Its side is ``2 round(z) + 1`` with z ~ N(0, 1), capped at ``max_size``: sides below 3 (z < 0.5, 69 %) leave
    the image as it is, and so does a coin flip; otherwise a cross, a vertical line of weight ``w`` and a
    horizontal one of weight ``1 - w`` (w ~ U(0, 1)), each spread over the side. Given a blur is attempted,
    P(3x3) = 12 %, P(5x5) = 3 %, larger 0.3 %.
    """

    def __init__(self, max_size: int = 45, p: float = 1.0):
        super().__init__(p=p)
        self.max_size = max_size

    def get_params(self) -> dict[str, np.ndarray | None]:
        side = 2 * int(np.round(self.random_generator.standard_normal())) + 1
        if side < 3 or self.random_generator.random() < 0.5:
            return {"kernel": None}
        side = min(side, self.max_size)
        weight_vertical = self.random_generator.random()
        kernel = np.zeros((side, side), dtype=np.float32)
        kernel[:, side // 2] += weight_vertical / side
        kernel[side // 2, :] += (1.0 - weight_vertical) / side
        return {"kernel": kernel}

    def apply(self, img: np.ndarray, kernel: np.ndarray | None, **params) -> np.ndarray:
        return img if kernel is None else cv2.filter2D(img, -1, kernel)


BLUR_KERNELS = ("motion", "release")


class PhotometricAugmentation:
    """Image-only augmentation of a pair; every random draw comes from the caller's generator.

    Probabilities are per pair (``gray``) or per crop (``colour``, ``template_blur``, ``search_blur``).
    ``blur_kernel``: ``"motion"`` (albumentations MotionBlur, sides ``blur_limit``) or ``"release"``
    (:class:`ReleaseCrossBlur`, which itself skips most attempts).
    """

    def __init__(self, gray: float = 0.25, colour: float = 1.0, template_blur: float = 0.0,
                 search_blur: float = 0.18, blur_limit: Sequence[int] = (3, 7), blur_kernel: str = "motion"):
        for name, p in {"gray": gray, "colour": colour, "template_blur": template_blur,
                        "search_blur": search_blur}.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"photometric probability {name}={p} is not in [0, 1]")
        if blur_kernel not in BLUR_KERNELS:
            raise ValueError(f"blur_kernel={blur_kernel!r}: choose one of {BLUR_KERNELS}")
        self.gray = gray
        self._to_gray = A.ToGray(p=1.0)
        self._template = self._crop_pipeline(colour, template_blur, blur_limit, blur_kernel)
        self._search = self._crop_pipeline(colour, search_blur, blur_limit, blur_kernel)

    @staticmethod
    def _crop_pipeline(colour: float, blur: float, blur_limit: Sequence[int], blur_kernel: str) -> A.Compose:
        blur_transform = A.MotionBlur(blur_limit=tuple(blur_limit), p=blur) if blur_kernel == "motion" else \
            ReleaseCrossBlur(p=blur)
        return A.Compose([ColourOffset(p=colour), blur_transform])

    def __call__(self, template_rgb: np.ndarray, search_rgb: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augment HWC uint8 RGB crops; returns new arrays of the same shape and dtype."""
        gray, template_seed, search_seed = rng.random() < self.gray, *rng.integers(0, 2**31, size=2)
        if gray:
            template_rgb = self._to_gray(image=template_rgb)["image"]
            search_rgb = self._to_gray(image=search_rgb)["image"]
        self._template.set_random_seed(int(template_seed))
        self._search.set_random_seed(int(search_seed))
        return self._template(image=template_rgb)["image"], self._search(image=search_rgb)["image"]
