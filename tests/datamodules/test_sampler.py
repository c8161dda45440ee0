"""Pair sampler: crops, boxes and masks agree with independent computations; sampling rules; errors."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
import torch
from siammask.datamodules.sampler import CropJitter, PairSampler, SourceSpec
from siammask.datamodules.sources import Frame
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.geometry import CropWindow, context_size

SEARCH_SCALE = 255 / 127


class RectangleVideos:
    """Videos of a white rectangle on noise; the rectangle moves one pixel right per frame."""

    def __init__(self, num_videos: int = 3, length: int = 10, tracks_per_video: int = 1, has_masks: bool = True,
                 name: str = "rectangles", box_xywh: tuple[float, float, float, float] = (40, 30, 30, 20)):
        self.name, self.has_masks = name, has_masks
        self.num_videos, self.length, self.tracks_per_video = num_videos, length, tracks_per_video
        self.box_xywh = box_xywh

    def num_tracks(self) -> int:
        return self.num_videos * self.tracks_per_video

    def track_length(self, track: int) -> int:
        return self.length

    def video_of(self, track: int) -> int:
        return track // self.tracks_per_video

    def frame(self, track: int, index: int) -> Frame:
        image = np.random.default_rng([track, index]).integers(0, 100, (120, 160, 3), dtype=np.uint8)
        x, y, w, h = self.box_xywh
        x += index
        mask = np.zeros((120, 160), dtype=np.uint8)
        mask[y: y + h, x: x + w] = 1
        image[mask == 1] = 255
        return Frame(image, np.array([x, y, x + w, y + h], dtype=float), mask if self.has_masks else None)


class BrokenFrames(RectangleVideos):
    def __init__(self, broken: str):
        super().__init__(name="broken_source")
        self.broken = broken

    def frame(self, track: int, index: int) -> Frame:
        frame = super().frame(track, index)
        if self.broken == "zero_box":
            return Frame(frame.image, np.array([10.0, 10.0, 10.0, 30.0]), frame.mask)
        if self.broken == "grey_image":
            return Frame(frame.image[..., 0], frame.box_xyxy, frame.mask)
        return Frame(frame.image, frame.box_xyxy, frame.mask * 255)


def tight_box_xyxy(mask: np.ndarray) -> np.ndarray:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return np.array([x, y, x + w, y + h], dtype=float)


@pytest.fixture(scope="module")
def synthetic() -> SyntheticVideos:
    return SyntheticVideos(num_videos=6, num_frames=12, seed=3, num_distractors=1)


def test_template_box_is_centred_at_63_5_and_scaled_by_context_without_augmentation():
    source = RectangleVideos()
    sampler = PairSampler([SourceSpec(source)], augment=False, negative_rate=0.0)
    for index in range(len(sampler)):
        box = sampler[index]["template_bbox"].numpy()
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, [63.5, 63.5], atol=1e-4)
        np.testing.assert_allclose(box[2:] - box[:2], np.array([30, 20]) * 127 / context_size(30, 20), rtol=1e-5)


def test_search_crop_box_and_mask_equal_an_independent_crop_of_the_source_frame(synthetic):
    sampler = PairSampler([SourceSpec(synthetic, frame_range=5)], augment=False, negative_rate=0.0, seed=1)
    for index in range(0, len(sampler), 2):
        sample, plan = sampler[index], sampler.plan(index)
        frame = synthetic.frame(plan.search.track, plan.search.index)
        window = CropWindow.around_box(frame.box_xyxy, 255, 0.5, SEARCH_SCALE)
        np.testing.assert_array_equal(sample["search_mask"].numpy(), window.crop(frame.mask))
        np.testing.assert_allclose(sample["search_bbox"].numpy(), window.box_to_crop(frame.box_xyxy), atol=1e-3)
        np.testing.assert_array_equal(sample["search"].numpy().transpose(1, 2, 0),
                                      window.crop(frame.image, frame.image.reshape(-1, 3).mean(0)))
        np.testing.assert_allclose(tight_box_xyxy(sample["search_mask"].numpy()), sample["search_bbox"].numpy(),
                                   atol=1.0)
        assert bool(sample["has_mask"]) and not bool(sample["is_negative"])


def test_tight_box_of_search_mask_matches_search_bbox_under_shift_scale_and_flip(synthetic):
    sampler = PairSampler([SourceSpec(synthetic, num_use=40, frame_range=5)], negative_rate=0.0, flip=0.5,
                          photometric={}, seed=2)
    checked = 0
    for index in range(len(sampler)):
        sample = sampler[index]
        box = sample["search_bbox"].numpy()
        if box.min() < 1 or box.max() > 254:  # object cut by the crop border: the mask is cut too
            continue
        np.testing.assert_allclose(tight_box_xyxy(sample["search_mask"].numpy()), box, atol=1.0)
        checked += 1
    assert checked >= 30


def test_masks_stay_binary_and_images_uint8_after_augmentation(synthetic):
    sampler = PairSampler([SourceSpec(synthetic, num_use=16)], flip=0.5, photometric={"gray": 0.5}, seed=4)
    for index in range(len(sampler)):
        sample = sampler[index]
        assert set(np.unique(sample["search_mask"].numpy())) <= {0, 1}
        assert sample["search_mask"].dtype == torch.uint8 and sample["search"].dtype == torch.uint8
        assert sample["template"].shape == (3, 127, 127) and sample["search"].shape == (3, 255, 255)
        assert sample["search_bbox"].dtype == torch.float32 and sample["template_bbox"].shape == (4,)


def test_flip_mirrors_search_image_mask_and_box(synthetic):
    kwargs = {"template_jitter": CropJitter(), "search_jitter": CropJitter(16, 0.1), "negative_rate": 0.0, "seed": 5,
                  "photometric": None}
    plain = PairSampler([SourceSpec(synthetic)], flip=0.0, **kwargs)
    flipped = PairSampler([SourceSpec(synthetic)], flip=1.0, **kwargs)
    for index in range(4):
        a, b = plain[index], flipped[index]
        # Same sampling points mirrored; OpenCV's fixed-point bilinear weights may round 1 level apart.
        for key in ("search", "template"):
            difference = np.abs(b[key].numpy().astype(int) - a[key].numpy()[:, :, ::-1])
            assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
        assert (b["search_mask"].numpy() != a["search_mask"].numpy()[:, ::-1]).mean() < 1e-3
        x0, y0, x1, y1 = a["search_bbox"].numpy()
        np.testing.assert_allclose(b["search_bbox"].numpy(), [255 - x1, y0, 255 - x0, y1], atol=1e-4)


def test_jitter_moves_and_scales_the_search_box_within_the_release_bounds():
    source = RectangleVideos(num_videos=4)
    jitter = CropJitter(shift=64, scale=0.18)
    jittered = PairSampler([SourceSpec(source, num_use=200)], search_jitter=jitter, negative_rate=0.0, seed=6)
    still = PairSampler([SourceSpec(source, num_use=200)], augment=False, negative_rate=0.0, seed=6)
    offsets, ratios = [], []
    for index in range(len(jittered)):
        a, b = jittered[index]["search_bbox"].numpy(), still[index]["search_bbox"].numpy()
        np.testing.assert_allclose((b[:2] + b[2:]) / 2, [127.5, 127.5], atol=1e-4)
        ratio = (a[2:] - a[:2]) / (b[2:] - b[:2])
        # The window is shifted by up to `shift` output pixels, then resampled by 1 / scale.
        offsets.append(((a[:2] + a[2:]) / 2 - 127.5) / ratio)
        ratios.append(ratio)
    offsets, ratios = np.abs(np.array(offsets)), np.array(ratios)
    assert offsets.max() <= 64 + 1e-3 and offsets.max() > 50
    assert ratios.min() >= 1 / 1.18 - 1e-6 and ratios.max() <= 1 / 0.82 + 1e-6
    assert abs(ratios[:, 0] - ratios[:, 1]).max() > 0.05  # x and y scales are drawn independently


def test_augment_false_switches_off_jitter_and_flip_but_keeps_negatives():
    sampler = PairSampler([SourceSpec(RectangleVideos(), num_use=50)], augment=False, flip=1.0, seed=7,
                          photometric={"gray": 1.0})
    plans = [sampler.plan(i) for i in range(len(sampler))]
    assert all(p.search_pose.scale_xy == (1.0, 1.0) and p.search_pose.shift_xy == (0.0, 0.0) for p in plans)
    assert all(p.template_pose.shift_xy == (0.0, 0.0) and not p.flip for p in plans)
    assert any(p.is_negative for p in plans)
    sample = sampler[0]
    assert not np.array_equal(sample["search"][0].numpy(), sample["search"][1].numpy())  # no grey either


def test_negative_pairs_show_an_object_of_another_video_without_mask():
    source = RectangleVideos(num_videos=4, tracks_per_video=2)
    sampler = PairSampler([SourceSpec(source)], negative_rate=1.0, augment=False, seed=8)
    for index in range(len(sampler)):
        plan, sample = sampler.plan(index), sampler[index]
        assert plan.is_negative and bool(sample["is_negative"]) and not bool(sample["has_mask"])
        assert source.video_of(plan.search.track) != source.video_of(plan.template.track)
        assert sample["search_mask"].sum() == 0
        frame = source.frame(plan.search.track, plan.search.index)
        expected = CropWindow.around_box(frame.box_xyxy, 255, 0.5, SEARCH_SCALE).box_to_crop(frame.box_xyxy)
        np.testing.assert_allclose(sample["search_bbox"].numpy(), expected, atol=1e-3)


def test_negative_rate_is_respected():
    sampler = PairSampler([SourceSpec(RectangleVideos(), num_use=1000)], negative_rate=0.2, seed=9)
    rate = np.mean([sampler.plan(i).is_negative for i in range(len(sampler))])
    assert 0.16 < rate < 0.24


def test_same_seed_epoch_and_index_give_the_same_sample_in_any_order(synthetic):
    a = PairSampler([SourceSpec(synthetic)], photometric={"gray": 0.5}, seed=10)
    b = PairSampler([SourceSpec(SyntheticVideos(num_videos=6, num_frames=12, seed=3, num_distractors=1))],
                    photometric={"gray": 0.5}, seed=10)
    order = [5, 0, 3, 1]
    first = {i: a[i] for i in order}
    for i in reversed(order):
        for key, value in b[i].items():
            assert torch.equal(value, first[i][key]), (i, key)


def test_epoch_and_seed_change_the_pairs():
    source = RectangleVideos(num_videos=5, length=50)
    sampler = PairSampler([SourceSpec(source, frame_range=40)], seed=11)
    epoch0 = [sampler.plan(i) for i in range(len(sampler))]
    sampler.set_epoch(1)
    epoch1 = [sampler.plan(i) for i in range(len(sampler))]
    other_seed = PairSampler([SourceSpec(source, frame_range=40)], seed=12)
    assert epoch0 != epoch1 and epoch0 != [other_seed.plan(i) for i in range(len(other_seed))]
    assert epoch0 == [sampler.plan(i, epoch=0) for i in range(len(sampler))]


def test_each_source_contributes_num_use_tracks_per_epoch_spread_evenly():
    small, large = RectangleVideos(num_videos=3, name="small"), RectangleVideos(num_videos=10, name="large")
    sampler = PairSampler([SourceSpec(small, num_use=7), SourceSpec(large)], negative_rate=0.0, seed=13)
    assert len(sampler) == 7 + 10
    plans = [sampler.plan(i) for i in range(len(sampler))]
    per_source = Counter(p.template.source for p in plans)
    assert per_source == {0: 7, 1: 10}
    small_tracks = Counter(p.template.track for p in plans if p.template.source == 0)
    assert sorted(small_tracks.values()) == [2, 2, 3]  # 7 draws over 3 tracks: repeated permutations
    assert sorted(p.template.track for p in plans if p.template.source == 1) == list(range(10))


def test_samples_per_epoch_overrides_the_sum_of_num_use():
    sampler = PairSampler([SourceSpec(RectangleVideos())], samples_per_epoch=25, seed=14)
    assert len(sampler) == 25
    assert Counter(sampler.plan(i).template.track for i in range(25)).keys() == {0, 1, 2}


def test_search_frame_stays_within_frame_range():
    source = RectangleVideos(num_videos=2, length=60)
    for frame_range in (0, 3):
        sampler = PairSampler([SourceSpec(source, num_use=300, frame_range=frame_range)], negative_rate=0.0, seed=15)
        gaps = [abs(p.search.index - p.template.index) for p in map(sampler.plan, range(len(sampler)))]
        assert max(gaps) == frame_range


def test_box_only_source_gives_has_mask_false_and_zero_mask():
    sampler = PairSampler([SourceSpec(RectangleVideos(has_masks=False))], negative_rate=0.0, seed=16)
    sample = sampler[0]
    assert not bool(sample["has_mask"]) and sample["search_mask"].sum() == 0


@pytest.mark.parametrize("broken, message", [("zero_box", "zero or negative size"),
                                             ("grey_image", "HxWx3 uint8"),
                                             ("mask_255", "0/1")])
def test_bad_frames_raise_errors_naming_source_track_and_frame(broken, message):
    sampler = PairSampler([SourceSpec(BrokenFrames(broken))], negative_rate=0.0, seed=17)
    plan = sampler.plan(0)
    with pytest.raises(ValueError, match=message) as error:
        sampler[0]
    assert f"source 'broken_source' track {plan.template.track} frame {plan.template.index}" in str(error.value)


def test_negatives_from_a_single_video_source_are_refused():
    with pytest.raises(ValueError, match="second video"):
        PairSampler([SourceSpec(RectangleVideos(num_videos=1, tracks_per_video=3))], negative_rate=0.2)


@pytest.mark.parametrize("kwargs", [{"num_use": 0}, {"frame_range": -1}])
def test_bad_source_spec_is_refused(kwargs):
    with pytest.raises(ValueError, match="rectangles"):
        SourceSpec(RectangleVideos(), **kwargs)


def test_index_out_of_range_raises_index_error():
    sampler = PairSampler([SourceSpec(RectangleVideos())])
    with pytest.raises(IndexError):
        sampler[len(sampler)]


class CrowdedImage(RectangleVideos):
    """Two 'images' as COCO has them: video 0 with one object, video 1 with nine."""

    def __init__(self):
        super().__init__(num_videos=2, length=1, name="crowded")

    def num_tracks(self) -> int:
        return 10

    def video_of(self, track: int) -> int:
        return 0 if track == 0 else 1


def test_pick_video_draws_a_video_then_one_of_its_tracks_as_the_release():
    sampler = PairSampler([SourceSpec(CrowdedImage(), frame_range=1)], pick="video", negative_rate=0.0,
                          samples_per_epoch=2000, seed=31)
    assert PairSampler([SourceSpec(CrowdedImage(), frame_range=1)], pick="video", negative_rate=0.0).__len__() == 2
    tracks = Counter(sampler.plan(i).template.track for i in range(len(sampler)))
    assert tracks[0] == 1000  # the lone object's image is half the epoch (uniform over tracks: a tenth)
    assert set(tracks) == set(range(10)) and all(60 < tracks[t] < 170 for t in range(1, 10))  # 1000 / 9 each
    by_track = PairSampler([SourceSpec(CrowdedImage(), frame_range=1)], negative_rate=0.0, samples_per_epoch=2000,
                           seed=31)
    assert Counter(by_track.plan(i).template.track for i in range(2000))[0] == 200


def test_pick_video_negatives_come_from_another_video_and_bad_picks_are_refused():
    source = RectangleVideos(num_videos=4, tracks_per_video=3, length=5)
    sampler = PairSampler([SourceSpec(source)], pick="video", negative_rate=1.0, seed=32)
    for plan in map(sampler.plan, range(len(sampler))):
        assert source.video_of(plan.search.track) != source.video_of(plan.template.track)
    with pytest.raises(ValueError, match="pick='image'"):
        PairSampler([SourceSpec(source)], pick="image")
