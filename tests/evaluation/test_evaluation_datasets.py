"""Readers on tiny layouts written in the test: VOT (release + pysot JSON), OTB (folders + JSON), DAVIS,
YouTube-VOS, synthetic; broken inputs fail for their own sequence with file and sequence named."""

import numpy as np
import pytest
from evaluation_fakes import (
    davis_labels,
    indexed_frames,
    make_davis,
    make_vot_release,
    moving_box,
    write_frames,
    write_json,
)

from siammask.evaluation.benchmark import datasets_for
from siammask.evaluation.datasets import (
    davis_dataset,
    otb_dataset,
    synthetic_datasets,
    vot_dataset,
    ytvos_dataset,
)
from siammask.evaluation.results import write_label_map


def test_vot_release_layout_reads_polygons_and_color_frames(tmp_path):
    ds = vot_dataset(make_vot_release(tmp_path / "VOT", {"ball": 4, "car": 3}), "VOT2018.json")
    assert ds.names == ["ball", "car"]
    seq = ds.load("ball")
    assert len(seq.frames) == 4 and seq.image_hw == (40, 50)
    np.testing.assert_allclose(seq.gt_polygons[2], [[7, 6], [17, 6], [17, 14], [7, 14]])
    np.testing.assert_allclose(seq.init_box_xyxy(2), [7, 6, 17, 14])
    assert seq.frames[3].shape == (40, 50, 3) and seq.frames[3][0, 0, 0] == 3


def test_vot_frames_directly_in_the_sequence_folder_and_four_value_boxes(tmp_path):
    root = make_vot_release(tmp_path, {"ball": 3}, polygon=False)
    (root / "ball" / "color").rename(root / "frames_tmp")
    for p in (root / "frames_tmp").iterdir():
        p.rename(root / "ball" / p.name)
    seq = vot_dataset(root).load("ball")
    assert len(seq.frames) == 3
    np.testing.assert_allclose(seq.gt_boxes_xywh[1], moving_box(1))


def test_pysot_json_layout_takes_precedence(tmp_path):
    frames = write_frames(tmp_path / "ball" / "color", 3)
    rects = [[x, y, x + w, y, x + w, y + h, x, y + h] for x, y, w, h in map(moving_box, range(3))]
    write_json(tmp_path / "VOT2018.json", {"ball": {"video_dir": "ball", "init_rect": moving_box(0),
                                                    "img_names": [str(p.relative_to(tmp_path)) for p in frames],
                                                    "gt_rect": rects}})
    ds = vot_dataset(tmp_path, "VOT2018.json")
    assert ds.names == ["ball"]
    np.testing.assert_allclose(ds.load("ball").gt_boxes_xywh, [moving_box(f) for f in range(3)])


def test_vot_missing_groundtruth_unreadable_frame_and_outside_box_fail_for_their_sequence(tmp_path):
    root = make_vot_release(tmp_path, {"good": 3, "nogt": 3, "broken": 3, "outside": 3})
    (root / "nogt" / "groundtruth.txt").unlink()
    (root / "broken" / "color" / "00000002.png").write_bytes(b"garbage")
    (root / "outside" / "groundtruth.txt").write_text("500,500,10,10\n" * 3)
    ds = vot_dataset(root)
    assert len(ds.load("good").frames) == 3
    with pytest.raises(FileNotFoundError, match="'nogt'.*groundtruth.txt"):
        ds.load("nogt")
    with pytest.raises(ValueError, match="'broken'.*00000002.png"):
        ds.load("broken").frames[1]
    with pytest.raises(ValueError, match="'outside'.*frame 0 .*groundtruth.txt.*outside the 50x40 image"):
        ds.load("outside")


def test_vot_groundtruth_with_wrong_number_of_lines_is_refused(tmp_path):
    root = make_vot_release(tmp_path, {"ball": 3})
    (root / "ball" / "groundtruth.txt").write_text("5,6,10,8\n")
    with pytest.raises(ValueError, match="'ball'.*1 regions for 3 frames"):
        vot_dataset(root).load("ball")


@pytest.mark.parametrize("separator", [",", "\t", " "])
def test_otb_folders_with_any_separator_and_several_targets(tmp_path, separator):
    for name in ("Basketball", "Jogging"):
        write_frames(tmp_path / name / "img", 3, suffix=".jpg", digits=4)
    lines = "\n".join(separator.join(str(v) for v in moving_box(f)) for f in range(3))
    (tmp_path / "Basketball" / "groundtruth_rect.txt").write_text(lines)
    (tmp_path / "Jogging" / "groundtruth_rect.1.txt").write_text(lines)
    (tmp_path / "Jogging" / "groundtruth_rect.2.txt").write_text(lines)
    ds = otb_dataset(tmp_path, "OTB100.json")
    assert ds.names == ["Basketball", "Jogging-1", "Jogging-2"]
    np.testing.assert_allclose(ds.load("Jogging-2").gt_boxes_xywh, [moving_box(f) for f in range(3)])


def test_otb_pysot_json(tmp_path):
    frames = write_frames(tmp_path / "Car4" / "img", 2, suffix=".jpg", digits=4)
    write_json(tmp_path / "OTB100.json", {"Car4": {"img_names": [str(p.relative_to(tmp_path)) for p in frames],
                                                   "gt_rect": [moving_box(0), moving_box(1)], "attr": []}})
    np.testing.assert_allclose(otb_dataset(tmp_path, "OTB100.json").load("Car4").gt_boxes_xywh[1], moving_box(1))


def test_davis_reads_objects_from_the_first_mask_and_treats_void_as_background(tmp_path):
    root = make_davis(tmp_path, {"dogs": 3})
    void = davis_labels(1)
    void[0, :] = 255
    write_label_map(root / "Annotations" / "480p" / "dogs" / "00001.png", void)
    seq = davis_dataset(root, 2017).load("dogs")
    assert seq.object_ids == [1, 2] and seq.start_frames == {1: 0, 2: 0}
    assert seq.labels[1][0].max() == 0
    np.testing.assert_array_equal(seq.init_mask(2), davis_labels(0) == 2)
    merged = davis_dataset(root, 2017, merge_objects=True).load("dogs")
    assert merged.object_ids == [1] and merged.labels[0].sum() == (davis_labels(0) > 0).sum()


def test_davis_missing_annotation_fails_for_its_sequence(tmp_path):
    root = make_davis(tmp_path, {"dogs": 3, "cats": 2})
    (root / "Annotations" / "480p" / "cats" / "00001.png").unlink()
    ds = davis_dataset(root, 2017)
    assert len(ds.load("dogs").labels) == 3
    with pytest.raises(FileNotFoundError, match="'cats'.*00001.png"):
        ds.load("cats")


def test_youtube_vos_objects_start_at_their_first_listed_frame(tmp_path):
    base = tmp_path / "valid"
    write_frames(base / "JPEGImages" / "vid1", 4, hw=(24, 32), suffix=".jpg", start=0, digits=5)
    first, later = davis_labels(0), davis_labels(2)
    first[first == 2] = 0  # object 2 appears in frame 2
    write_label_map(base / "Annotations" / "vid1" / "00000.png", first)
    write_label_map(base / "Annotations" / "vid1" / "00002.png", np.where(later == 2, 2, 0))
    write_json(base / "meta.json", {"videos": {"vid1": {"objects": {
        "1": {"category": "dog", "frames": ["00000", "00001", "00002", "00003"]},
        "2": {"category": "cat", "frames": ["00002", "00003"]}}}}})
    seq = ytvos_dataset(tmp_path).load("vid1")
    assert seq.object_ids == [1, 2] and seq.start_frames == {1: 0, 2: 2}
    assert seq.labels[1] is None and seq.labels[2] is not None
    np.testing.assert_array_equal(seq.init_mask(2), later == 2)


def test_youtube_vos_object_without_its_first_mask_is_refused(tmp_path):
    base = tmp_path / "valid"
    write_frames(base / "JPEGImages" / "vid1", 2, hw=(24, 32), start=0, digits=5)
    write_label_map(base / "Annotations" / "vid1" / "00000.png", np.zeros((24, 32), np.uint8))
    write_json(base / "meta.json", {"videos": {"vid1": {"objects": {"1": {"frames": ["00000", "00001"]}}}}})
    with pytest.raises(ValueError, match="'vid1': object 1 has no mask in its first frame 00000"):
        ytvos_dataset(tmp_path).load("vid1")


class FakeVideos:
    """Two targets per video: a box moving right and a static one, frames carrying their index."""

    def __init__(self, num_frames=5, hw=(30, 40)):
        self.num_frames, self.hw, self.calls = num_frames, hw, 0

    def sequence(self, video):
        self.calls += 1
        boxes = np.array([[[2 + f + video, 3, 12 + f + video, 11], [25, 15, 35, 25]] for f in range(self.num_frames)],
                         dtype=float)
        masks = np.zeros((self.num_frames, 2, *self.hw), np.uint8)
        for f, (a, b) in enumerate(boxes.astype(int)):
            masks[f, 0, a[1]:a[3], a[0]:a[2]] = 1
            masks[f, 1, b[1]:b[3], b[0]:b[2]] = 1
        return list(indexed_frames(self.num_frames, self.hw)), boxes, masks


def test_synthetic_gives_one_box_sequence_per_target_and_one_mask_sequence_per_video():
    videos = FakeVideos()
    boxes, masks = synthetic_datasets(videos, num_videos=2)
    assert boxes.names == ["video000_target1", "video000_target2", "video001_target1", "video001_target2"]
    seq = boxes.load("video001_target1")
    np.testing.assert_allclose(seq.gt_boxes_xywh[4], [7, 3, 10, 8])
    assert seq.frames[2][0, 0, 0] == 2
    vos = masks.load("video001")
    assert vos.object_ids == [1, 2] and vos.labels[0][20, 30] == 2 and vos.labels[0][5, 5] == 1
    calls = videos.calls
    boxes.load("video001_target2")
    assert videos.calls == calls  # the last video is cached, targets of one video render once


def test_datasets_for_maps_protocols_to_box_or_mask_sequences(tmp_path):
    cfg = {"name": "synthetic", "reader": "synthetic", "num_videos": 1, "protocols": ["vot", "davis"]}
    ds = datasets_for(cfg, FakeVideos())
    assert ds["vot"].names == ["video000_target1", "video000_target2"] and ds["davis"].names == ["video000"]
    with pytest.raises(ValueError, match="protocol 'davis' cannot run on the 'vot' reader"):
        datasets_for({"name": "v", "reader": "vot", "root": make_vot_release(tmp_path, {"a": 2}),
                      "protocols": ["davis"]})
    with pytest.raises(ValueError, match="unknown reader"):
        datasets_for({"name": "x", "reader": "kitti", "protocols": []})
    with pytest.raises(FileNotFoundError, match="list.txt"):
        vot_dataset(tmp_path / "nowhere")
