"""Photometric augmentation: release behaviours (shared grey, per-crop colour offset, search-only blur)."""

from __future__ import annotations

from collections import Counter

import albumentations as A
import numpy as np
import pytest
from siammask.datamodules.augment import ColourOffset, PhotometricAugmentation, ReleaseCrossBlur


def textured(size: int, seed: int) -> np.ndarray:
    """A mid-grey-range texture so that offsets never saturate."""
    return np.random.default_rng(seed).integers(60, 190, (size, size, 3), dtype=np.uint8)


def is_grey(image: np.ndarray) -> bool:
    return bool(np.all(image[..., 0] == image[..., 1]) and np.all(image[..., 1] == image[..., 2]))


def test_colour_offset_adds_one_constant_per_channel_and_is_reproducible_by_seed():
    image = textured(64, 0)
    pipeline = A.Compose([ColourOffset(p=1.0)])
    outputs = []
    for seed in (1, 1, 2):
        pipeline.set_random_seed(seed)
        outputs.append(pipeline(image=image)["image"])
    difference = outputs[0].astype(int) - image
    for channel in range(3):  # cv2.add rounds the float offset once: one value per channel
        assert len(np.unique(difference[..., channel])) == 1
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_colour_offset_follows_the_release_matrix_statistics():
    matrix = np.array([[2.0, 0, 0], [0, 0, 0], [0, 0, 8.0]])
    transform, image = A.Compose([ColourOffset(matrix, p=1.0)]), np.full((4, 4, 3), 128, np.uint8)
    offsets = []
    for seed in range(400):
        transform.set_random_seed(seed)
        offsets.append(transform(image=image)["image"][0, 0].astype(float) - 128)
    std = np.std(offsets, axis=0)
    assert abs(std[0] - 2) < 0.4 and std[1] == 0 and abs(std[2] - 8) < 1.2


def test_grey_is_decided_once_per_pair():
    augment = PhotometricAugmentation(gray=0.5, colour=0.0, search_blur=0.0)
    decisions = []
    for seed in range(40):
        template, search = augment(textured(32, 1), textured(64, 2), np.random.default_rng(seed))
        assert is_grey(template) == is_grey(search)
        decisions.append(is_grey(template))
    assert 5 < sum(decisions) < 35


def test_all_probabilities_zero_leave_the_crops_unchanged():
    template, search = textured(32, 3), textured(64, 4)
    out_t, out_s = PhotometricAugmentation(gray=0, colour=0, search_blur=0)(template, search,
                                                                           np.random.default_rng(0))
    np.testing.assert_array_equal(out_t, template)
    np.testing.assert_array_equal(out_s, search)


def test_blur_applies_to_the_search_crop_only_by_default():
    template, search = textured(32, 5), textured(64, 6)
    out_t, out_s = PhotometricAugmentation(gray=0, colour=0, search_blur=1.0)(template, search,
                                                                             np.random.default_rng(1))
    np.testing.assert_array_equal(out_t, template)
    assert out_s.std() < search.std() * 0.9  # blurred noise loses contrast


def test_same_generator_state_gives_the_same_augmentation():
    augment = PhotometricAugmentation(gray=0.5, search_blur=0.5)
    first = augment(textured(32, 7), textured(64, 8), np.random.default_rng(3))
    second = augment(textured(32, 7), textured(64, 8), np.random.default_rng(3))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [{"gray": 1.5}, {"search_blur": -0.1}])
def test_probabilities_outside_0_1_are_refused(kwargs):
    with pytest.raises(ValueError, match="not in"):
        PhotometricAugmentation(**kwargs)


def test_release_blur_tries_18_percent_and_blurs_about_3_percent_of_search_crops_with_small_crosses():
    blur = ReleaseCrossBlur(p=1.0)
    A.Compose([blur]).set_random_seed(0)
    kernels = [blur.get_params()["kernel"] for _ in range(4000)]
    applied = [k for k in kernels if k is not None]
    assert 0.13 < len(applied) / len(kernels) < 0.18  # P(side >= 3) / 2 = 0.154
    sides = Counter(k.shape[0] for k in applied)
    assert set(sides) <= {3, 5, 7, 9} and sides[3] > 3 * sides[5] > 0
    for kernel in applied:
        assert np.isclose(kernel.sum(), 1.0)
        centre = kernel.shape[0] // 2
        off_cross = np.delete(np.delete(kernel, centre, axis=0), centre, axis=1)
        assert not off_cross.any()  # a cross: one vertical and one horizontal line
    augment = PhotometricAugmentation(gray=0.0, colour=0.0, search_blur=0.18, blur_kernel="release")
    template, search = textured(16, 1), textured(32, 2)
    rng = np.random.default_rng(5)
    changed = sum(not np.array_equal(augment(template, search, rng)[1], search) for _ in range(1500))
    assert 15 <= changed <= 75  # 0.18 * 0.154 = 2.8 % of 1500 = 42


def test_unknown_blur_kernel_is_refused():
    with pytest.raises(ValueError, match="blur_kernel='box'"):
        PhotometricAugmentation(blur_kernel="box")
