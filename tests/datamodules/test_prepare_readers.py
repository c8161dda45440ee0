"""Annotation reading rules of the readers: label PNG modes, frame numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from siammask.datamodules.readers.base import SkipFrame, frame_number, read_label_png


def _save(path, array, mode=None):
    image = Image.fromarray(array, mode=mode)
    if mode == "P":
        image.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])  # full palette, as DAVIS
    image.save(path)
    return str(path)


def test_palette_png_indices_are_object_ids(tmp_path):
    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 1:4], labels[4:, 5:] = 2, 255
    got, ids = read_label_png(_save(tmp_path / "p.png", labels, "P"))
    np.testing.assert_array_equal(got, labels)
    assert ids == [2, 255]  # in a palette PNG 255 is an ordinary id


def test_binary_greyscale_png_is_object_one_and_other_grey_levels_are_ids(tmp_path):
    binary = np.zeros((6, 8), np.uint8)
    binary[2:4, 2:6] = 255
    got, ids = read_label_png(_save(tmp_path / "b.png", binary, "L"))
    assert ids == [1] and got.max() == 1 and int(got.sum()) == 8
    levels = binary // 255 * 3
    levels[0, 0] = 7
    assert read_label_png(_save(tmp_path / "g.png", levels, "L"))[1] == [3, 7]


def test_sixteen_bit_png_keeps_large_ids(tmp_path):
    labels = np.zeros((4, 4), np.uint16)
    labels[0, 0], labels[3, 3] = 300, 1
    assert read_label_png(_save(tmp_path / "i.png", labels))[1] == [1, 300]


@pytest.mark.parametrize("make, reason", [
    (lambda p: _save(p, np.zeros((4, 4, 3), np.uint8)), "bad_annotation"),
    (lambda p: p.write_bytes(b"\x89PNG broken") and str(p), "bad_annotation"),
    (lambda p: str(p), "missing_annotation"),
])
def test_unusable_mask_files_skip_the_frame_with_their_reason(tmp_path, make, reason):
    path = make(tmp_path / "m.png")
    with pytest.raises(SkipFrame) as raised:
        read_label_png(path)
    assert raised.value.skip.reason == reason and raised.value.skip.file == str(tmp_path / "m.png")


def test_frame_numbers_come_from_digit_stems_else_the_listing_position():
    assert frame_number("00045", 3) == 45
    assert frame_number("frame_0001", 3) == 3
