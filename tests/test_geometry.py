import numpy as np
import pytest

from siammask.geometry import (
    CropWindow,
    check_box_xyxy,
    context_size,
    cxcywh_to_xyxy,
    iou_xyxy,
    mean_colour,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)


def test_box_format_conversions_round_trip():
    box_xywh = np.array([10.0, 20.0, 30.0, 40.0])
    box_xyxy = xywh_to_xyxy(box_xywh)
    assert box_xyxy.tolist() == [10, 20, 40, 60]
    assert xyxy_to_xywh(box_xyxy).tolist() == box_xywh.tolist()
    assert xyxy_to_cxcywh(box_xyxy).tolist() == [25, 40, 30, 40]
    assert cxcywh_to_xyxy(xyxy_to_cxcywh(box_xyxy)).tolist() == box_xyxy.tolist()


def test_iou_of_hand_computed_boxes():
    assert iou_xyxy([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert iou_xyxy([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0


def test_context_size_is_the_siamfc_formula():
    # w = 40, h = 20: p = 0.5 * 60 = 30 -> sqrt(70 * 50)
    assert context_size(40, 20) == pytest.approx(np.sqrt(3500))


@pytest.mark.parametrize("bad, message", [([0, 0, 0, 5], "zero or negative size"), ([1, 2, 3], "4 finite"),
                                          ([0, 0, np.nan, 4], "4 finite")])
def test_impossible_boxes_are_rejected_with_their_value(bad, message):
    with pytest.raises(ValueError, match=message):
        check_box_xyxy(bad)


def test_box_outside_the_image_is_rejected():
    with pytest.raises(ValueError, match="outside the 100x50 image"):
        check_box_xyxy([120, 10, 130, 20], image_hw=(50, 100))


def test_crop_puts_the_box_and_its_pixels_at_the_same_place():
    image = np.zeros((200, 300, 3), np.uint8)
    image[60:100, 100:180] = 255  # box xyxy (100, 60, 180, 100)
    window = CropWindow.around_box([100, 60, 180, 100], out_size=255, scale_to_exemplar=255 / 127)
    crop = window.crop(image)
    box = window.box_to_crop([100, 60, 180, 100])
    assert (box[0] + box[2]) / 2 == pytest.approx(127.5) and (box[1] + box[3]) / 2 == pytest.approx(127.5)
    ys, xs = np.nonzero(crop[..., 0] > 127)
    assert xs.min() == pytest.approx(box[0], abs=1) and xs.max() + 1 == pytest.approx(box[2], abs=1)
    assert ys.min() == pytest.approx(box[1], abs=1) and ys.max() + 1 == pytest.approx(box[3], abs=1)


def test_paste_back_inverts_crop_and_boxes_round_trip():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160), dtype=np.uint8).astype(np.float32)
    window = CropWindow(80.0, 60.0, 60.0, 60)  # scale 1: exact pixel copy
    crop = window.crop(image)
    assert np.array_equal(crop, image[30:90, 50:110])
    back = window.paste_back(crop, (120, 160))
    assert np.array_equal(back[30:90, 50:110], crop) and back[:30].sum() == 0
    box = np.array([55.0, 35.0, 70.5, 80.0])
    assert np.allclose(window.box_to_image(window.box_to_crop(box)), box)


def test_padding_takes_the_given_colour_outside_the_image():
    image = np.full((10, 10, 3), 7, np.uint8)
    crop = CropWindow(0.0, 0.0, 10.0, 10).crop(image, pad_value=(1, 2, 3))
    assert crop[0, 0].tolist() == [1, 2, 3] and crop[-1, -1].tolist() == [7, 7, 7]


def test_sub_window_maps_a_crop_window_back_to_image_pixels():
    outer = CropWindow(100.0, 100.0, 510.0, 255)  # 2 image px per crop px
    inner = outer.sub_window(127.5, 127.5, 127.0, 127)
    assert (inner.cx, inner.cy, inner.size) == (100.0, 100.0, 254.0)


def test_mean_colour_is_the_per_channel_mean():
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = (4, 8, 12)
    assert mean_colour(image) == (1.0, 2.0, 3.0)
