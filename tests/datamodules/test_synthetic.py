"""Synthetic videos: exact, visible, deterministic annotations; the TrackSource contract."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
from siammask.datamodules.photos import PHOTOS, load_photos
from siammask.datamodules.sources import TrackSource
from siammask.datamodules.synthetic import SyntheticVideos

# Every realism knob on (conf/data/synthetic.yaml's training source turns them on at lower rates).
REALISM = {"photo_textures": 0.5, "low_saturation": 0.5, "shading": 0.6, "shadows": 1.0, "camera_zoom": 0.2,
           "noise": 8.0, "jpeg": 1.0}


def tight_box_xyxy(mask: np.ndarray) -> np.ndarray:
    x, y, w, h = cv2.boundingRect(mask)
    return np.array([x, y, x + w, y + h], dtype=float)


@pytest.fixture(scope="module")
def videos() -> SyntheticVideos:
    return SyntheticVideos(num_videos=8, num_frames=20, seed=5)


def test_implements_track_source_with_one_track_per_video_and_target(videos):
    multi = SyntheticVideos(num_videos=4, num_frames=5, num_targets=3)
    assert isinstance(videos, TrackSource) and videos.has_masks
    assert multi.num_tracks() == 12 and multi.video_of(7) == 2 and multi.track_length(7) == 5
    frame = videos.frame(3, 4)
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    assert frame.mask.shape == (240, 320) and frame.mask.dtype == np.uint8
    assert set(np.unique(frame.mask)) == {0, 1}


def test_box_is_the_tight_box_of_the_visible_mask_in_every_frame(videos):
    for video in range(videos.num_videos):
        frames, boxes, masks = videos.sequence(video)
        assert len(frames) == 20 and boxes.shape == (20, 1, 4) and masks.shape == (20, 1, 240, 320)
        for t in range(20):
            np.testing.assert_array_equal(boxes[t, 0], tight_box_xyxy(masks[t, 0]))
            assert masks[t, 0].sum() >= 200  # never lost: at least a 14x14-pixel patch visible


def test_frame_and_sequence_agree(videos):
    frames, boxes, masks = videos.sequence(2)
    frame = videos.frame(2, 11)
    np.testing.assert_array_equal(frame.image, frames[11])
    np.testing.assert_array_equal(frame.box_xyxy, boxes[11, 0])
    np.testing.assert_array_equal(frame.mask, masks[11, 0])


def test_occluders_hide_at_most_max_occlusion_of_a_target():
    # Occluders are built last, so without them the targets (and the distractors below them) are unchanged.
    kwargs = {"num_videos": 10, "num_frames": 15, "seed": 6, "max_occlusion": 0.4}
    occluded = SyntheticVideos(num_occluders=2, **kwargs)
    clear = SyntheticVideos(num_occluders=0, **kwargs)
    hidden = []
    for video in range(10):
        visible, full = occluded.sequence(video)[2], clear.sequence(video)[2]
        assert np.all(visible <= full)  # occlusion only removes pixels
        hidden.append(1 - visible.sum(axis=(2, 3)) / full.sum(axis=(2, 3)))
    hidden = np.concatenate(hidden)
    assert hidden.max() <= 0.4 * 1.05 and hidden.max() > 0  # 5% slack for anti-aliased shape borders


def test_several_targets_never_overlap_and_each_track_shows_its_own_target():
    videos = SyntheticVideos(num_videos=3, num_frames=10, num_targets=3, seed=7)
    for video in range(3):
        _, boxes, masks = videos.sequence(video)
        assert masks.sum(axis=1).max() == 1  # a pixel belongs to at most one target
        for k in range(3):
            frame = videos.frame(video * 3 + k, 4)
            np.testing.assert_array_equal(frame.mask, masks[4, k])
            np.testing.assert_array_equal(frame.box_xyxy, boxes[4, k])


def test_targets_move_scale_and_rotate_over_a_video(videos):
    _, boxes, _ = videos.sequence(0)
    centres = (boxes[:, 0, :2] + boxes[:, 0, 2:]) / 2
    sizes = boxes[:, 0, 2:] - boxes[:, 0, :2]
    assert np.ptp(centres, axis=0).max() > 5 and np.ptp(sizes, axis=0).max() > 2


def test_rendering_is_deterministic_by_seed_and_independent_of_access_order():
    a = SyntheticVideos(num_videos=5, num_frames=8, seed=9)
    b = SyntheticVideos(num_videos=5, num_frames=8, seed=9)
    c = SyntheticVideos(num_videos=5, num_frames=8, seed=10)
    reference = [a.frame(v, 3).image for v in range(5)]
    for v in reversed(range(5)):
        np.testing.assert_array_equal(b.frame(v, 3).image, reference[v])
    assert not np.array_equal(c.frame(0, 3).image, reference[0])


def test_frames_do_not_depend_on_the_cache_sizes():
    """The default keeps every video's assets (asset_cache = num_videos): that must only save time."""
    order = [(3, 2), (0, 5), (3, 7), (1, 0), (0, 5), (2, 4), (3, 2)]
    uncached = SyntheticVideos(num_videos=4, num_frames=8, seed=3, asset_cache=0, frame_cache=0)
    kept = SyntheticVideos(num_videos=4, num_frames=8, seed=3, asset_cache=4, frame_cache=8)
    for video, index in order:
        a, b = uncached.frame(video, index), kept.frame(video, index)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
    assert len(kept._assets) == 4 and not uncached._assets


def test_pickled_copy_renders_the_same_frames_and_drops_caches(videos):
    videos.frame(1, 1)
    copy = pickle.loads(pickle.dumps(videos))
    assert not copy._assets and not copy._frames
    np.testing.assert_array_equal(copy.frame(1, 1).image, videos.frame(1, 1).image)


def test_returned_arrays_are_read_only_so_the_cache_cannot_be_corrupted(videos):
    frame = videos.frame(0, 0)
    with pytest.raises(ValueError):
        frame.image[0, 0] = 0


@pytest.mark.parametrize("call", [lambda v: v.frame(8, 0), lambda v: v.frame(0, 20), lambda v: v.video_of(-1)])
def test_out_of_range_track_or_frame_raises_index_error(videos, call):
    with pytest.raises(IndexError, match="synthetic"):
        call(videos)


@pytest.mark.parametrize("kwargs", [{"num_frames": 1}, {"object_size": (0.5, 0.2)}, {"max_occlusion": 1.0},
                                    {"photo_textures": 1.5}, {"shading": 1.0}, {"noise": -1.0}, {"jpeg": -0.1}])
def test_bad_constructor_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        SyntheticVideos(**kwargs)


def test_smaller_images_and_no_clutter_knobs_still_render_valid_targets():
    videos = SyntheticVideos(num_videos=3, num_frames=6, image_size=(96, 64), num_distractors=0, num_occluders=0,
                             motion_blur=1.0, seed=11)
    for video in range(3):
        frames, boxes, _masks = videos.sequence(video)
        assert frames[0].shape == (64, 96, 3)
        assert np.all(boxes[..., :2] >= 0) and np.all(boxes[..., 2] <= 96) and np.all(boxes[..., 3] <= 64)


def test_realistic_videos_keep_exact_annotations():
    videos = SyntheticVideos(num_videos=6, num_frames=12, num_targets=2, seed=12, **REALISM)
    for video in range(6):
        frames, boxes, masks = videos.sequence(video)
        assert frames[0].shape == (240, 320, 3) and frames[0].dtype == np.uint8
        for t in range(12):
            for k in range(2):
                np.testing.assert_array_equal(boxes[t, k], tight_box_xyxy(masks[t, k]))
                assert masks[t, k].sum() >= 200


def test_pixel_only_knobs_change_pixels_not_annotations():
    """Shading, shadows, zoom, noise and JPEG draw from their own generator and leave every shape and path alone."""
    kwargs = {"num_videos": 4, "num_frames": 6, "num_targets": 2, "seed": 13}
    plain = SyntheticVideos(**kwargs)
    dressed = SyntheticVideos(shading=0.6, shadows=1.0, camera_zoom=0.2, noise=8.0, jpeg=1.0, **kwargs)
    for video in range(4):
        a, b = plain.sequence(video), dressed.sequence(video)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])
        assert not np.array_equal(a[0][3], b[0][3])


def test_shadows_only_darken():
    """A shadow takes light away before later objects are drawn: no pixel gets brighter, some get darker."""
    kwargs = {"num_videos": 4, "num_frames": 4, "seed": 14, "motion_blur": 0.0}
    lit, shadowed = SyntheticVideos(**kwargs), SyntheticVideos(shadows=1.0, **kwargs)
    darker = 0
    for video in range(4):
        a, b = lit.render(video, 2)[0].astype(int), shadowed.render(video, 2)[0].astype(int)
        assert np.all(b <= a + 1)  # +1: uint8 rounding of the lighting gain
        darker += np.count_nonzero(b < a - 10)
    assert darker > 500


def test_noise_has_the_drawn_strength():
    kwargs = {"num_videos": 6, "num_frames": 3, "seed": 15}
    clean, noisy = SyntheticVideos(**kwargs), SyntheticVideos(noise=8.0, **kwargs)
    deviations = [np.std(noisy.render(v, 1)[0].astype(float) - clean.render(v, 1)[0]) for v in range(6)]
    assert 0 < max(deviations) <= 8.0 * 1.1 and min(deviations) >= 0


def test_pale_families_have_low_saturation():
    """low_saturation=1: every target is white, grey or skin-like (HSV saturation <= 40 before the lighting tint)."""
    videos = SyntheticVideos(num_videos=8, num_frames=2, seed=16, low_saturation=1.0, lighting=0.0)
    saturations = []
    for video in range(8):
        image, _, masks = videos.render(video, 0)
        saturation = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV)[..., 1]
        saturations.append(np.median(saturation[masks[0] > 0]))
    assert max(saturations) <= 45


def test_the_bundled_photographs_load_as_rgb():
    photos = load_photos()
    assert len(photos) == len(PHOTOS) and all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8
                                              for p in photos)
    assert min(min(p.shape[:2]) for p in photos) >= 256  # room for a background crop


def test_photo_textures_one_paints_every_texture_from_the_photographs(monkeypatch):
    """With a single one-colour 'photograph', photo_textures=1 leaves no pixel of any other colour."""
    monkeypatch.setattr("siammask.datamodules.synthetic.load_photos",
                        lambda: (np.full((300, 400, 3), (11, 22, 33), np.uint8),))
    videos = SyntheticVideos(num_videos=3, num_frames=2, seed=17, photo_textures=1.0, lighting=0.0, motion_blur=0.0)
    for video in range(3):
        image = videos.render(video, 1)[0]
        np.testing.assert_array_equal(np.unique(image.reshape(-1, 3), axis=0), [[11, 22, 33]])
