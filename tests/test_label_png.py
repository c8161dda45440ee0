"""The one rule set for mask PNGs (siammask.label_png): ids from palette and greyscale PNGs, 0/255 as one object,
colour refused; every reader (track.py, evaluation, prepare) goes through it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siammask.label_png import read_label_png

IDS = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)


@pytest.mark.parametrize("mode", ["P", "L"])
def test_palette_and_grey_pixels_are_object_ids(tmp_path, mode) -> None:
    path = tmp_path / "ids.png"
    image = Image.fromarray(IDS)
    if mode == "P":
        image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0])  # DAVIS colours; the pixel values stay the ids
    assert image.mode == mode
    image.save(path)
    labels, ids = read_label_png(path)
    np.testing.assert_array_equal(labels, IDS)
    assert ids == [1, 2]


def test_a_grey_0_255_mask_is_object_1_and_a_bilevel_one_too(tmp_path) -> None:
    binary = (IDS > 0).astype(np.uint8)
    Image.fromarray(binary * 255).save(tmp_path / "grey.png")
    Image.fromarray(binary.astype(bool)).save(tmp_path / "bilevel.png")
    for name in ("grey.png", "bilevel.png"):
        labels, ids = read_label_png(tmp_path / name)
        np.testing.assert_array_equal(labels, binary)
        assert ids == [1]


def test_colour_undecodable_and_missing_masks_are_refused_naming_the_file(tmp_path) -> None:
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match=r"rgb\.png' is a RGB image: masks must be palette or greyscale"):
        read_label_png(tmp_path / "rgb.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read mask .*bad\.png"):
        read_label_png(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError, match=r"absent\.png' not found"):
        read_label_png(tmp_path / "absent.png")
