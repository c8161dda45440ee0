import cv2
import numpy as np
import pytest
import torch

from siammask import torch_boxes
from siammask.geometry import (
    CropWindow,
    check_box_xyxy,
    context_size,
    cxcywh_to_xyxy,
    iou_xyxy,
    mask_to_box_xyxy,
    mean_colour,
    polygon_bounds_xyxy,
    polygon_from_box_xyxy,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from siammask.tracking.postprocess import mask_shape


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


def random_masks(count: int, hw=(23, 31), seed=0) -> np.ndarray:
    """Sparse random blobs, some masks empty, some touching the borders."""
    rng = np.random.default_rng(seed)
    masks = rng.random((count, *hw)) < rng.uniform(0.0, 0.02, (count, 1, 1))
    masks[1] = False
    masks[2, 0, 0] = masks[2, -1, -1] = True
    return masks


def test_the_tight_box_of_a_mask_is_the_bounding_rect_and_the_nonzero_min_max_to_the_bit():
    mask = np.zeros((6, 9), np.uint8)
    mask[2:4, 3:8] = 1  # columns 3..7, rows 2..3
    assert mask_to_box_xyxy(mask).tolist() == [3.0, 2.0, 8.0, 4.0]
    for m in random_masks(40):
        if not m.any():
            with pytest.raises(ValueError, match="empty mask"):
                mask_to_box_xyxy(m)
            continue
        box = mask_to_box_xyxy(m)
        x, y, w, h = cv2.boundingRect(m.astype(np.uint8))  # what data preparation and the generator used
        ys, xs = np.nonzero(m)  # what the tracker used
        assert box.dtype == np.float64
        np.testing.assert_array_equal(box, np.array([x, y, x + w, y + h], dtype=np.float64))
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_array_equal(mask_to_box_xyxy(m.astype(np.uint8) * 255), box)


def test_torch_mask_boxes_match_the_numpy_tight_box_and_are_zero_for_empty_masks():
    masks = random_masks(40, hw=(31, 31), seed=1)
    boxes = torch_boxes.masks_to_boxes_xyxy(torch.from_numpy(masks))
    assert boxes.dtype == torch.float32 and boxes.shape == (40, 4)
    for m, box in zip(masks, boxes):
        expected = mask_to_box_xyxy(m) if m.any() else np.zeros(4)
        np.testing.assert_array_equal(box.numpy(), expected.astype(np.float32))


def test_torch_box_functions_agree_with_the_numpy_ones():
    a = np.array([[10.0, 20.0, 40.0, 60.0], [0.0, 0.0, 5.0, 5.0]])
    b = np.array([[20.0, 30.0, 50.0, 70.0], [1.0, 1.0, 4.0, 9.0]])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_array_equal(torch_boxes.xyxy_to_cxcywh(ta).numpy(), xyxy_to_cxcywh(a))
    np.testing.assert_array_equal(torch_boxes.cxcywh_to_xyxy(ta).numpy(), cxcywh_to_xyxy(a))
    np.testing.assert_allclose(torch_boxes.box_iou_xyxy(ta, tb).numpy(), iou_xyxy(a, b), rtol=1e-12)


def test_box_corners_run_clockwise_and_their_bounds_give_the_box_back():
    corners = polygon_from_box_xyxy([1.5, 2.0, 7.0, 9.25])
    assert corners.tolist() == [[1.5, 2.0], [7.0, 2.0], [7.0, 9.25], [1.5, 9.25]]
    assert polygon_bounds_xyxy(corners).tolist() == [1.5, 2.0, 7.0, 9.25]
    assert polygon_bounds_xyxy([[3, 1], [0, 4], [2, 8]]).tolist() == [0.0, 1.0, 3.0, 8.0]


def test_the_mask_outline_bounds_are_the_tight_box_of_its_largest_part_placed_at_the_offset():
    mask = np.zeros((12, 14), np.uint8)
    mask[2:5, 3:8] = 1  # the largest part: columns 3..7, rows 2..4
    mask[9, 12] = 1  # a speck elsewhere
    for pixel_corners in (True, False):
        shape = mask_shape(mask, offset_xy=(10, 20), pixel_corners=pixel_corners)
        assert shape.minmax_xyxy.dtype == np.float64
        assert shape.minmax_xyxy.tolist() == [13.0, 22.0, 18.0, 25.0]


def test_the_crop_window_owns_its_origin_and_every_map_starts_there():
    window = CropWindow(cx=10.0, cy=20.0, size=8.0, out_size=16)  # origin (6, 16), 2 crop px per image px
    assert window.origin_xy == (6.0, 16.0)
    np.testing.assert_array_equal(window.affine(), [[2.0, 0.0, -12.0], [0.0, 2.0, -32.0]])
    np.testing.assert_array_equal(window.box_to_crop([6.0, 16.0, 14.0, 24.0]), [0.0, 0.0, 16.0, 16.0])
    np.testing.assert_array_equal(window.box_to_image([0.0, 0.0, 16.0, 16.0]), [6.0, 16.0, 14.0, 24.0])
    np.testing.assert_array_equal(window.points_to_image(np.array([[4.0, 2.0]])), [[8.0, 17.0]])
    sub = window.sub_window(8.0, 8.0, 4.0, 5)
    assert (sub.cx, sub.cy, sub.size, sub.out_size) == (10.0, 20.0, 2.0, 5)
    odd = CropWindow(cx=0.1, cy=-3.7, size=2.9, out_size=7)  # the old formula, to the bit
    assert odd.origin_xy == (0.1 - 2.9 / 2, -3.7 - 2.9 / 2)
    np.testing.assert_array_equal(odd.affine()[:, 2], [-odd.scale * (0.1 - 2.9 / 2), -odd.scale * (-3.7 - 2.9 / 2)])
