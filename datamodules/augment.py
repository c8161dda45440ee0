"""Photometric augmentation of a template/search pair (albumentations).

Geometry (crop jitter, flip) is not done here: it is folded into the crop affine in
:mod:`siammask.datamodules.sampler`, so image, mask and box go through one and the same transform. What is
left is image-only, and follows the official SiamMask training augmentation
(foolwood/SiamMask ``datasets/siam_mask_dataset.py`` with ``experiments/siammask_base/config.json``):

* grey-scale, decided once per pair so template and search agree (release ``gray: 0.25``);
* the release's colour offset ``rgbVar @ N(0, I)``, drawn independently for each crop, always on;
* motion blur on the search crop only (release ``search.blur: 0.18``; the template has none).
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


class PhotometricAugmentation:
    """Image-only augmentation of a pair; every random draw comes from the caller's generator.

    Probabilities are per pair (``gray``) or per crop (``colour``, ``template_blur``, ``search_blur``).
    """

    def __init__(self, gray: float = 0.25, colour: float = 1.0, template_blur: float = 0.0,
                 search_blur: float = 0.18, blur_limit: Sequence[int] = (3, 7)):
        for name, p in {"gray": gray, "colour": colour, "template_blur": template_blur,
                        "search_blur": search_blur}.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"photometric probability {name}={p} is not in [0, 1]")
        self.gray = gray
        self._to_gray = A.ToGray(p=1.0)
        self._template = self._crop_pipeline(colour, template_blur, blur_limit)
        self._search = self._crop_pipeline(colour, search_blur, blur_limit)

    @staticmethod
    def _crop_pipeline(colour: float, blur: float, blur_limit: Sequence[int]) -> A.Compose:
        return A.Compose([ColourOffset(p=colour), A.MotionBlur(blur_limit=tuple(blur_limit), p=blur)])

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
