"""Region overlap, VOT init boxes and rasterisation on shapes whose areas are known by hand."""

import cv2
import numpy as np
import pytest
import shapely

from siammask.evaluation.region import (
    init_box_from_polygon,
    polygon_from_values,
    region_overlap,
)
from siammask.geometry import mask_to_box_xyxy, polygon_from_box_xyxy, polygon_mask

DIAMOND = np.array([[10.0, 5.0], [15.0, 10.0], [10.0, 15.0], [5.0, 10.0]])  # square rotated 45 deg, area 50


def test_two_squares_half_shifted_overlap_one_third():
    a = polygon_from_box_xyxy([0, 0, 10, 10])
    b = polygon_from_box_xyxy([5, 0, 15, 10])
    assert region_overlap(a, b) == pytest.approx(50 / 150)


def test_rotated_box_inside_its_bounding_box_overlaps_by_area_ratio():
    assert region_overlap(DIAMOND, polygon_from_box_xyxy([5, 5, 15, 15])) == pytest.approx(0.5)


def test_overlap_counts_only_the_part_inside_the_image():
    outside_half = polygon_from_box_xyxy([-10, 0, 10, 10])
    inside = polygon_from_box_xyxy([0, 0, 10, 10])
    assert region_overlap(outside_half, inside) == pytest.approx(0.5)
    assert region_overlap(outside_half, inside, image_wh=(20, 20)) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [polygon_from_box_xyxy([30, 30, 40, 40]), np.full((4, 2), np.nan),
                                 np.array([[0.0, 0], [5, 5], [10, 10], [0, 0]])])
def test_disjoint_nan_or_degenerate_regions_overlap_zero(bad):
    assert region_overlap(bad, polygon_from_box_xyxy([0, 0, 10, 10]), (50, 50)) == 0.0


def test_four_values_are_a_rectangle_and_eight_a_polygon():
    np.testing.assert_array_equal(polygon_from_values([1, 2, 3, 4]), [[1, 2], [4, 2], [4, 6], [1, 6]])
    np.testing.assert_array_equal(polygon_from_values(DIAMOND.reshape(-1)), DIAMOND)
    with pytest.raises(ValueError, match="4 .* or an even number"):
        polygon_from_values([1, 2, 3])


def test_init_box_of_a_rectangle_is_itself():
    np.testing.assert_allclose(init_box_from_polygon(polygon_from_box_xyxy([2, 3, 12, 7])), [2, 3, 12, 7])


def test_init_box_of_a_rotated_square_keeps_centre_and_area():
    side = 10 * np.sqrt(0.5)  # bounds 10x10 = 100, polygon area 50 -> shrink by sqrt(1/2)
    np.testing.assert_allclose(init_box_from_polygon(DIAMOND),
                               [10 - side / 2, 10 - side / 2, 10 + side / 2, 10 + side / 2])


def test_polygon_mask_takes_pixels_whose_centre_is_inside():
    mask = polygon_mask(polygon_from_box_xyxy([1, 2, 4, 3]), (5, 6))
    expected = np.zeros((5, 6), np.uint8)
    expected[2:3, 1:4] = 1
    np.testing.assert_array_equal(mask, expected)
    rotated = cv2.boxPoints(((10.3, 9.1), (12.0, 5.0), 30.0))  # no pixel centre on its edges
    centres_inside = [[shapely.Polygon(rotated).contains(shapely.Point(x + 0.5, y + 0.5)) for x in range(20)]
                      for y in range(20)]
    np.testing.assert_array_equal(polygon_mask(rotated, (20, 20)), np.array(centres_inside, dtype=np.uint8))


def test_mask_box_spans_whole_pixels():
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 3:7] = 1
    np.testing.assert_array_equal(mask_to_box_xyxy(mask), [3, 2, 7, 4])
    with pytest.raises(ValueError, match="empty"):
        mask_to_box_xyxy(np.zeros((3, 3)))
