"""Every result-file format survives a write / read round trip, and malformed files name file and sequence."""

import numpy as np
import pytest
from PIL import Image

from siammask.evaluation.region import FAILURE, INIT, SKIP
from siammask.evaluation.results import (
    davis_palette,
    label_map_path,
    otb_result_path,
    read_label_map,
    read_otb_boxes,
    read_vot_trajectory,
    vot_result_path,
    write_label_map,
    write_otb_boxes,
    write_vot_trajectory,
)


def test_vot_trajectory_round_trip_keeps_codes_and_polygons(tmp_path):
    polygon = np.array([[1.5, 2.25], [11.125, 2.0], [11.0, 9.5], [1.0, 9.75]])
    trajectory = [INIT, polygon, FAILURE, SKIP, SKIP, INIT, polygon + 1]
    path = vot_result_path(tmp_path, "ball")
    assert path == tmp_path / "ball" / "ball_001.txt"
    write_vot_trajectory(path, trajectory)
    assert path.read_text().splitlines()[:4] == ["1", "1.5000,2.2500,11.1250,2.0000,11.0000,9.5000,1.0000,9.7500",
                                                 "2", "0"]
    back = read_vot_trajectory(path, "ball", num_frames=7)
    assert [e for e in back if isinstance(e, int)] == [INIT, FAILURE, SKIP, SKIP, INIT]
    np.testing.assert_allclose(back[1], polygon)
    np.testing.assert_allclose(back[6], polygon + 1)


def test_vot_four_value_lines_read_as_rectangles(tmp_path):
    path = tmp_path / "s" / "s_001.txt"
    path.parent.mkdir()
    path.write_text("1\n2.0,3.0,4.0,5.0\n")
    np.testing.assert_allclose(read_vot_trajectory(path, "s")[1], [[2, 3], [6, 3], [6, 8], [2, 8]])


@pytest.mark.parametrize("content, message", [("1\n3\n", "single number 3.0"), ("1\n1,2,3\n", "line 2"),
                                              ("1\nx,y\n", "line 2 is not numbers"),
                                              ("1\n2\n", "has 2 lines but the sequence has 3 frames")])
def test_malformed_vot_results_name_file_line_and_sequence(tmp_path, content, message):
    path = tmp_path / "bag_001.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_vot_trajectory(path, "bag", num_frames=3 if "frames" in message else None)
    assert "'bag'" in str(err.value) and str(path) in str(err.value)


def test_missing_result_file_names_file_and_sequence(tmp_path):
    with pytest.raises(FileNotFoundError, match="'bag'.*bag_001.txt"):
        read_vot_trajectory(vot_result_path(tmp_path, "bag"), "bag")


def test_otb_boxes_round_trip_and_accept_tabs_and_spaces(tmp_path):
    boxes = np.array([[1.0, 2.0, 30.5, 40.25], [3.0, 4.0, 31.0, 41.0]])
    path = otb_result_path(tmp_path, "Basketball")
    write_otb_boxes(path, boxes)
    np.testing.assert_allclose(read_otb_boxes(path, "Basketball", num_frames=2), boxes)
    path.write_text("1\t2\t30.5\t40.25\n3 4 31 41\n")
    np.testing.assert_allclose(read_otb_boxes(path, "Basketball"), boxes)
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="'Basketball'.*3 numbers, expected 4"):
        read_otb_boxes(path, "Basketball")


def test_label_maps_round_trip_as_indexed_pngs_with_the_davis_palette(tmp_path):
    labels = np.zeros((6, 9), np.uint8)
    labels[1:3, 2:5], labels[4:, 6:] = 1, 3
    path = label_map_path(tmp_path, "dogs", "00017")
    write_label_map(path, labels)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert image.getpalette()[3:6] == [128, 0, 0]  # id 1 is dark red, as in DAVIS annotations
    np.testing.assert_array_equal(read_label_map(path, "dogs", (6, 9)), labels)
    np.testing.assert_array_equal(davis_palette()[:4], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]])


def test_label_map_of_wrong_size_or_colour_is_refused(tmp_path):
    path = tmp_path / "s" / "00000.png"
    write_label_map(path, np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="'s'.*5x4, the frames are 6x4"):
        read_label_map(path, "s", (4, 6))
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(path)
    with pytest.raises(ValueError, match="'s'.*is a RGB image: masks must be palette or greyscale"):
        read_label_map(path, "s")
    path.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="'s'.*cannot read mask"):
        read_label_map(path, "s")


def test_an_output_folder_is_resumed_only_by_the_same_evaluation(tmp_path):
    from siammask.evaluation import claim_output_folder

    identity = {"benchmark": {"name": "synthetic", "num_videos": 2}, "ckpt_path": "a.ckpt", "tracker": {"lr": 0.3}}
    claim_output_folder(tmp_path, identity)
    claim_output_folder(tmp_path, dict(identity))  # the same evaluation, started again: fine
    with pytest.raises(ValueError, match=r"another evaluation \(different \['ckpt_path', 'tracker'\]"):
        claim_output_folder(tmp_path, {**identity, "ckpt_path": "b.ckpt", "tracker": {"lr": 0.25}})
