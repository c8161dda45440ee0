"""Procedural tracking videos with exact boxes and masks: the embedded default dataset.

Each video is a textured background (slowly panning camera) with textured objects drawn in depth
order: similar-looking *distractors* (same texture family as a target, other shape and path) below
the *targets*, and *occluders* above them. Objects translate, scale, rotate, change aspect and
deform non-rigidly; frames get a lighting change and, in some videos, motion blur. Each target's
mask is the set of pixels it shows after occlusion, and its box the tight box of that mask, so
annotations are exact by construction.

The *realism* knobs (all off by default, so the benchmark's videos stay as they were) bring what real
footage has and flat shapes lack: crops of real photographs (:mod:`siammask.datamodules.photos`) as
backgrounds and object textures, low-saturation objects (white, grey, skin-like), shading whose light turns
over the video, soft cast shadows, camera zoom, sensor noise and JPEG compression. Their random draws come
from a second generator, so turning them off renders exactly the videos of before.

Visibility is guaranteed by construction: targets stay inside the image (several targets each keep
to their own vertical strip, so they never overlap), distractors are drawn below targets, and the
occluders' total area is bounded by ``max_occlusion`` times the smallest target area.

Only small per-video assets (background texture, sprites, motion parameters) are built, lazily and
cached (LRU); frames are rendered on demand, a few milliseconds each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from siammask.datamodules.photos import load_photos
from siammask.datamodules.sources import Frame

from siammask.geometry import mask_to_box_xyxy, warp_edge_affine
from siammask.onnx.calibration import CALIBRATION_PAIRS, Calibration, Pair

SPRITE_SIZE = 96  # sprite resolution (pixels); objects are at most ~150 px in a 320x240 frame
SHAPE_RADIUS = 0.44  # largest shape radius, as a fraction of the sprite side (leaves room for deformation)
TEXTURE_KINDS = ("noise", "stripes", "checker", "spots")
SHAPE_KINDS = ("ellipse", "polygon", "blob")
PERIOD_FRAMES = (20.0, 90.0)  # periods of the smooth motions (frames)
CLUTTER_SHAPES = 6  # static background shapes per video
CLUTTER_RADIUS = (0.06, 0.18)  # their radius range, fraction of the shorter background side
TEXTURE_PERIOD = (12.0, 40.0)  # texture period range (image pixels)
TEXTURE_CELL = 16  # side of a periodic texture's unit cell (pixels)
PHOTO_SCALE = (0.35, 1.2)  # photo pixels per output pixel of a photo texture (zoomed in to mostly shrunk)
LOW_SATURATION = (0, 40)  # HSV saturation range of a low-saturation palette (white, grey, skin-like)
LOW_SATURATION_VALUE = (110, 256)  # and its brightness range: pale objects, as a plastic bag or a shirt
JPEG_QUALITY = (25, 90)  # range of a compressed video's JPEG quality
SHADOW_OFFSET = (0.04, 0.15)  # cast-shadow offset, fraction of the object's diameter
SHADOW_DARKNESS = (0.25, 0.6)  # fraction of the light a shadow takes away
NOISE_MARGIN = 16  # a video's noise field is this much larger than a frame; each frame reads a shifted window


@dataclass
class _Motion:
    """Smooth bounded motion of one object: every quantity is a sum of sinusoids of the frame index."""

    centre_mid: np.ndarray  # (2,) image px
    centre_amp: np.ndarray  # (2,) px, |centre - mid| <= amp
    centre_w: np.ndarray  # (2, 2) angular frequencies (axis, harmonic)
    centre_phase: np.ndarray  # (2, 2)
    scale0: float  # image px per sprite px
    scale_amp: float  # log-scale amplitude
    aspect_amp: float  # log-aspect amplitude
    shape_w: np.ndarray  # (2,) angular frequencies of scale and aspect
    shape_phase: np.ndarray  # (2,)
    angle0: float  # radians
    angle_speed: float  # radians per frame
    deform_amp: float  # sprite px
    deform_k: np.ndarray  # (2,) spatial angular frequencies (radians per sprite px)
    deform_w: float
    deform_phase: np.ndarray  # (2,)

    _HARMONIC_WEIGHTS = np.array([0.8, 0.2])

    def centre(self, t: float) -> np.ndarray:
        wave = np.sin(self.centre_w * t + self.centre_phase) @ self._HARMONIC_WEIGHTS
        return self.centre_mid + self.centre_amp * wave

    def pose(self, t: float) -> tuple[np.ndarray, float, float, float]:
        """Centre (image px), per-axis scale (image px per sprite px) and angle at frame ``t``."""
        log_scale, log_aspect = np.sin(self.shape_w * t + self.shape_phase) * [self.scale_amp, self.aspect_amp]
        scale = self.scale0 * np.exp(log_scale)
        scale_x, scale_y = scale * np.exp(log_aspect / 2), scale * np.exp(-log_aspect / 2)
        return self.centre(t), scale_x, scale_y, self.angle0 + self.angle_speed * t


@dataclass
class _Object:
    sprite_rgba: np.ndarray  # (S, S, 4) uint8, alpha = shape mask * 255
    radius: float  # largest distance of a shape pixel from the sprite centre (sprite px)
    motion: _Motion
    shade_amp: float = 0.0  # shading strength: brightness gain from the side facing the light to the other
    shade_w: float = 0.0  # angular speed of the light direction (radians per frame)
    shade_phase: float = 0.0
    shadow_shift: np.ndarray | None = None  # (2,) image px offset of the cast shadow; None: no shadow
    shadow_sigma: float = 0.0  # its blur (image px)
    shadow_darkness: float = 0.0
    _shading_terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # built on first use (see _shaded)


@dataclass
class _Camera:
    """What the camera adds to a video: zoom on the background, sensor noise, compression."""

    zoom_amp: float = 0.0  # log-zoom amplitude of the background
    zoom_w: float = 0.0
    zoom_phase: float = 0.0
    noise: np.ndarray | None = None  # (H + margin, W + margin, 3) int16 noise field; None: no noise
    jpeg_quality: int = 0  # 0: not compressed


@dataclass
class _VideoAssets:
    background: np.ndarray  # (H + 2 pan, W + 2 pan, 3) uint8 RGB
    pan_amp: int
    pan_w: np.ndarray  # (2,)
    pan_phase: np.ndarray  # (2,)
    objects: list[_Object]  # drawing order: distractors, targets, occluders
    target_ids: list[int]  # positions of the targets in ``objects``
    light_amp: np.ndarray  # (4,) log-gain amplitude: common, then per-channel tint
    light_w: np.ndarray  # (4,)
    light_phase: np.ndarray  # (4,)
    blur_strength: float  # motion-blur kernel length per pixel of target motion (0 = no blur)
    camera: _Camera


class SyntheticVideos:
    """A :class:`~siammask.datamodules.sources.TrackSource` of procedurally rendered videos.

    Track ``video * num_targets + k`` is target ``k`` of ``video``. Everything is a function of
    ``(seed, video, frame)``. ``image_size`` is ``(width, height)``.

    Difficulty knobs: ``object_size`` (target diameter range, fraction of the shorter image side),
    ``max_speed`` (target diameters per frame), ``scale_change`` / ``aspect_change`` (max log amplitude),
    ``max_rotation`` (degrees per frame), ``deformation`` (wave amplitude, fraction of the object size),
    ``num_distractors``, ``num_occluders``, ``max_occlusion`` (max hidden fraction of a target),
    ``motion_blur`` (probability that a video has motion blur), ``lighting`` (max log-gain amplitude),
    ``camera_pan`` (background pan amplitude, fraction of the image width). Motion blur follows the
    first target's motion. ``asset_cache`` / ``frame_cache``: per-process LRU sizes (videos / frames).

    Realism knobs (0 = off): ``photo_textures`` (probability that a background, clutter or object texture is
    a crop of a real photograph), ``low_saturation`` (probability that an object family is pale: white, grey,
    skin-like), ``shading`` (max brightness swing of an object's shading, the light turning over the video),
    ``shadows`` (probability that a video's objects cast soft shadows), ``camera_zoom`` (max log-zoom amplitude
    of the background), ``noise`` (max sensor-noise standard deviation, grey levels) and ``jpeg`` (probability
    that a video's frames are JPEG-compressed).
    """

    has_masks = True

    def __init__(self, num_videos: int = 1000, num_frames: int = 50, image_size: tuple[int, int] = (320, 240),
                 seed: int = 0, num_targets: int = 1, *, object_size: tuple[float, float] = (0.15, 0.35),
                 max_speed: float = 0.15, scale_change: float = 0.3, aspect_change: float = 0.25,
                 max_rotation: float = 2.0, deformation: float = 0.03, num_distractors: int = 2,
                 num_occluders: int = 1, max_occlusion: float = 0.4, motion_blur: float = 0.3,
                 lighting: float = 0.2, camera_pan: float = 0.1, photo_textures: float = 0.0,
                 low_saturation: float = 0.0, shading: float = 0.0, shadows: float = 0.0, camera_zoom: float = 0.0,
                 noise: float = 0.0, jpeg: float = 0.0, name: str = "synthetic",
                 asset_cache: int = 32, frame_cache: int = 4):
        width, height = (int(v) for v in image_size)
        if num_videos < 1 or num_frames < 2 or num_targets < 1 or width < 32 or height < 32 or seed < 0:
            raise ValueError(f"SyntheticVideos needs num_videos >= 1, num_frames >= 2, num_targets >= 1, "
                             f"image >= 32x32 and seed >= 0; got {num_videos}, {num_frames}, {num_targets}, "
                             f"{image_size}, {seed}")
        if not 0 < object_size[0] <= object_size[1] <= 1 or not 0 <= max_occlusion < 1:
            raise ValueError(f"object_size {object_size} must satisfy 0 < lo <= hi <= 1 and max_occlusion "
                             f"{max_occlusion} must be in [0, 1)")
        probabilities = {"photo_textures": photo_textures, "low_saturation": low_saturation, "shadows": shadows,
                         "jpeg": jpeg}
        amounts = {"shading": shading, "camera_zoom": camera_zoom, "noise": noise}
        wrong = [f"{k}={v}" for k, v in probabilities.items() if not 0 <= v <= 1]
        wrong += [f"{k}={v}" for k, v in amounts.items() if v < 0 or (k == "shading" and v >= 1)]
        if wrong:
            raise ValueError(f"SyntheticVideos realism knobs out of range: {', '.join(wrong)} (probabilities in "
                             "[0, 1], shading in [0, 1), camera_zoom and noise >= 0)")
        self.name = name
        self.num_videos, self.num_frames, self.num_targets, self.seed = num_videos, num_frames, num_targets, seed
        self.width, self.height = width, height
        self.object_size = (float(object_size[0]), float(object_size[1]))
        self.max_speed, self.scale_change, self.aspect_change = max_speed, scale_change, aspect_change
        self.max_rotation, self.deformation = max_rotation, deformation
        self.num_distractors, self.num_occluders, self.max_occlusion = num_distractors, num_occluders, max_occlusion
        self.motion_blur, self.lighting, self.camera_pan = motion_blur, lighting, camera_pan
        self.photo_textures, self.low_saturation, self.shading = photo_textures, low_saturation, shading
        self.shadows, self.camera_zoom, self.noise, self.jpeg = shadows, camera_zoom, noise, jpeg
        self.asset_cache, self.frame_cache = asset_cache, frame_cache
        self._assets: OrderedDict[int, _VideoAssets] = OrderedDict()
        self._frames: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_assets"], state["_frames"] = OrderedDict(), OrderedDict()  # caches stay per process
        return state

    # -- TrackSource -------------------------------------------------------------------------------------------

    def num_tracks(self) -> int:
        return self.num_videos * self.num_targets

    def track_length(self, track: int) -> int:
        self._check_track(track)
        return self.num_frames

    def video_of(self, track: int) -> int:
        self._check_track(track)
        return track // self.num_targets

    def frame(self, track: int, index: int) -> Frame:
        video, target = divmod(self._check_track(track), self.num_targets)
        image, boxes_xyxy, masks = self.render(video, index)
        return Frame(image, boxes_xyxy[target].copy(), masks[target])

    def sequence(self, video: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """All frames of ``video`` for evaluation: RGB HWC uint8 frames, boxes (T, K, 4) xyxy image px,
        masks (T, K, H, W) uint8 {0, 1}."""
        rendered = [self._render(video, t) for t in range(self.num_frames)]
        return [r[0] for r in rendered], np.stack([r[1] for r in rendered]), np.stack([r[2] for r in rendered])

    # -- rendering ---------------------------------------------------------------------------------------------

    def render(self, video: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``index`` of ``video``: image (H, W, 3) RGB uint8, target boxes (K, 4) xyxy image px and
        visible target masks (K, H, W) uint8 {0, 1}; read-only arrays shared with a small cache."""
        if not 0 <= video < self.num_videos or not 0 <= index < self.num_frames:
            raise IndexError(f"{self.name}: frame {index} of video {video} out of range "
                             f"({self.num_videos} videos of {self.num_frames} frames)")
        key = (video, index)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        rendered = self._render(video, index)
        for array in rendered:
            array.setflags(write=False)
        self._frames[key] = rendered
        if len(self._frames) > self.frame_cache:
            self._frames.popitem(last=False)
        return rendered

    def _render(self, video: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assets = self._video_assets(video)
        image = self._background(assets, t)
        owner = np.zeros((self.height, self.width), dtype=np.uint8)  # 1 + index of the object on top, 0 = none
        for i, obj in enumerate(assets.objects):
            _draw(image, owner, obj, t, i + 1)
        masks = np.stack([(owner == i + 1).view(np.uint8) for i in assets.target_ids])
        boxes_xyxy = np.zeros((len(masks), 4))
        for k, mask in enumerate(masks):
            if not mask.any():
                raise RuntimeError(f"{self.name}: target {k} invisible in video {video} frame {t} (generator bug)")
            boxes_xyxy[k] = mask_to_box_xyxy(mask)
        image = self._lighting(image, assets, t)
        if assets.blur_strength > 0:
            image = _motion_blur(image, assets.objects[assets.target_ids[0]].motion, t, assets.blur_strength)
        return _sensor(image, assets.camera, t), boxes_xyxy, masks

    def _background(self, assets: _VideoAssets, t: int) -> np.ndarray:
        """The background seen at frame ``t``: a window of the background texture, panned and zoomed in by
        ``exp(zoom_amp (1 + sin))`` (so the window never reaches past the texture)."""
        pan = np.rint(assets.pan_amp * (1 + np.sin(assets.pan_w * t + assets.pan_phase))).astype(int)
        camera = assets.camera
        if camera.zoom_amp == 0:
            return assets.background[pan[1]: pan[1] + self.height, pan[0]: pan[0] + self.width].copy()
        zoom = np.exp(camera.zoom_amp * (1 + np.sin(camera.zoom_w * t + camera.zoom_phase)))
        centre = np.array([self.width / 2, self.height / 2]) + pan
        output_to_background = np.array([[1 / zoom, 0, centre[0] - self.width / (2 * zoom)],
                                         [0, 1 / zoom, centre[1] - self.height / (2 * zoom)]])
        return cv2.warpAffine(assets.background, output_to_background, (self.width, self.height),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT101)

    @staticmethod
    def _lighting(image: np.ndarray, assets: _VideoAssets, t: int) -> np.ndarray:
        log_gain = assets.light_amp * np.sin(assets.light_w * t + assets.light_phase)
        gains = np.exp(log_gain[0] + log_gain[1:])
        return cv2.transform(image, np.diag(gains))

    # -- per-video assets --------------------------------------------------------------------------------------

    def _video_assets(self, video: int) -> _VideoAssets:
        if video in self._assets:
            self._assets.move_to_end(video)
            return self._assets[video]
        assets = self._build_assets(np.random.default_rng(np.random.SeedSequence([self.seed, video])),
                                    np.random.default_rng(np.random.SeedSequence([self.seed, video, 1])))
        self._assets[video] = assets
        if len(self._assets) > self.asset_cache:
            self._assets.popitem(last=False)
        return assets

    def _build_assets(self, rng: np.random.Generator, extra: np.random.Generator) -> _VideoAssets:
        """``rng`` draws what the videos always had; ``extra`` every realism knob's choices, so that with the
        knobs off ``rng`` sees the same draws as before they existed."""
        w, h = self.width, self.height
        pan_amp = round(self.camera_pan * w)
        camera = self._camera(extra)
        background = _texture(self._family(rng, extra, objects=False), (h + 2 * pan_amp, w + 2 * pan_amp), rng)
        _add_clutter(background, lambda: self._family(rng, extra, objects=False), rng)

        strip = w / self.num_targets
        targets, families = [], []
        for k in range(self.num_targets):
            family = self._family(rng, extra, objects=True)
            families.append(family)
            targets.append(self._target(family, (k * strip, (k + 1) * strip), rng))
        mean_diameter = float(np.mean([2 * o.radius * o.motion.scale0 for o in targets]))
        distractors = [self._distractor(families[int(rng.integers(self.num_targets))],
                                        mean_diameter * rng.uniform(0.7, 1.3), rng)
                       for _ in range(self.num_distractors)]
        occluder_area = self.max_occlusion * min(_min_area(o) for o in targets) / max(self.num_occluders, 1)
        occluders = [self._occluder(occluder_area, self._family(rng, extra, objects=True), rng)
                     for _ in range(self.num_occluders)]
        objects = distractors + targets + occluders
        self._light_and_shadows(objects, extra)

        light_amp = np.array([self.lighting, self.lighting / 4, self.lighting / 4, self.lighting / 4])
        return _VideoAssets(
            background=background, pan_amp=pan_amp, pan_w=_angular(rng, 2), pan_phase=rng.uniform(0, 2 * np.pi, 2),
            objects=objects, target_ids=list(range(len(distractors), len(distractors) + len(targets))),
            light_amp=light_amp * rng.uniform(0, 1, 4), light_w=_angular(rng, 4),
            light_phase=rng.uniform(0, 2 * np.pi, 4),
            blur_strength=float(rng.uniform(0.5, 1.0)) if rng.random() < self.motion_blur else 0.0,
            camera=camera)

    def _family(self, rng: np.random.Generator, extra: np.random.Generator, *, objects: bool) -> tuple:
        """A texture family (:func:`_texture`): a photograph with ``photo_textures``' probability, else a
        procedural kind; an object family is pale with ``low_saturation``'s probability."""
        pale = objects and extra.random() < self.low_saturation
        if extra.random() < self.photo_textures:
            return "photo", int(extra.integers(len(load_photos()))), pale
        if pale:
            return _family(rng, saturation=LOW_SATURATION, value=LOW_SATURATION_VALUE)
        return _family(rng)

    def _camera(self, extra: np.random.Generator) -> _Camera:
        noise = None
        if self.noise > 0:
            # Drawn at half resolution and enlarged (2x2 grains, as demosaicing and chroma subsampling leave them):
            # a quarter of the random draws.
            half_hw = ((self.height + NOISE_MARGIN + 1) // 2, (self.width + NOISE_MARGIN + 1) // 2)
            grains = np.rint(extra.normal(0, extra.uniform(0, self.noise), (*half_hw, 3))).astype(np.int16)
            noise = np.repeat(np.repeat(grains, 2, axis=0), 2, axis=1)
        return _Camera(zoom_amp=extra.uniform(0, self.camera_zoom), zoom_w=float(_angular(extra, 1)[0]),
                       zoom_phase=extra.uniform(0, 2 * np.pi), noise=noise,
                       jpeg_quality=int(extra.integers(*JPEG_QUALITY)) if extra.random() < self.jpeg else 0)

    def _light_and_shadows(self, objects: list[_Object], extra: np.random.Generator) -> None:
        """Give each object its shading and, in a video with shadows, one light's cast shadow (in place)."""
        casts_shadows = extra.random() < self.shadows
        light = extra.uniform(0, 2 * np.pi)  # where the shadows fall: one light for the whole video
        for obj in objects:
            obj.shade_amp = float(extra.uniform(0, self.shading))
            obj.shade_w = float(_angular(extra, 1)[0]) * extra.choice([-1, 1])
            obj.shade_phase = float(extra.uniform(0, 2 * np.pi))
            if casts_shadows:
                diameter = 2 * obj.radius * obj.motion.scale0
                obj.shadow_shift = diameter * extra.uniform(*SHADOW_OFFSET) * np.array([np.cos(light), np.sin(light)])
                obj.shadow_sigma = diameter * extra.uniform(0.03, 0.1)
                obj.shadow_darkness = float(extra.uniform(*SHADOW_DARKNESS))

    def _motion(self, radius: float, diameter: float, x_range: tuple[float, float], max_speed: float,
                deformation: float, rng: np.random.Generator) -> _Motion:
        """Motion of an object of ``diameter`` px whose extent stays within ``x_range`` x [0, height]."""
        scale_amp = rng.uniform(0, self.scale_change)
        aspect_amp = rng.uniform(0, self.aspect_change)
        deform_amp = deformation * 2 * radius * rng.uniform(0.3, 1.0)
        room = np.array([(x_range[1] - x_range[0]) / 2, self.height / 2])
        # Largest distance of a shape pixel from the centre over all poses (largest axis scale), at scale0 = 1.
        unit_extent = (radius + deform_amp) * np.exp(scale_amp + aspect_amp / 2)
        scale0 = min(diameter / (2 * radius), room.min() / unit_extent)  # too large for its room: shrink to fit
        amp = (room - unit_extent * scale0) * rng.uniform(0.3, 1.0, 2)
        w = _angular(rng, 4).reshape(2, 2)
        speed_bound = max(float(np.max(amp * (w @ _Motion._HARMONIC_WEIGHTS))), 1e-9)
        w = w * min(1.0, max_speed * 2 * radius * scale0 / speed_bound)
        return _Motion(
            centre_mid=np.array([(x_range[0] + x_range[1]) / 2, self.height / 2]), centre_amp=amp, centre_w=w,
            centre_phase=rng.uniform(0, 2 * np.pi, (2, 2)), scale0=scale0, scale_amp=scale_amp,
            aspect_amp=aspect_amp, shape_w=_angular(rng, 2), shape_phase=rng.uniform(0, 2 * np.pi, 2),
            angle0=rng.uniform(0, 2 * np.pi), angle_speed=np.deg2rad(rng.uniform(-1, 1) * self.max_rotation),
            deform_amp=deform_amp, deform_k=2 * np.pi / (SPRITE_SIZE * rng.uniform(0.4, 1.0, 2)),
            deform_w=float(_angular(rng, 1)[0]), deform_phase=rng.uniform(0, 2 * np.pi, 2))

    def _sprite(self, family: tuple, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        mask = _shape_mask(rng)
        texture = _texture(family, (SPRITE_SIZE, SPRITE_SIZE), rng)
        ys, xs = np.nonzero(mask)
        radius = float(np.sqrt(((xs + 0.5 - SPRITE_SIZE / 2) ** 2 + (ys + 0.5 - SPRITE_SIZE / 2) ** 2).max()))
        return np.dstack([texture, mask * 255]), radius

    def _target(self, family: tuple, x_range: tuple[float, float], rng: np.random.Generator) -> _Object:
        sprite, radius = self._sprite(family, rng)
        diameter = rng.uniform(*self.object_size) * min(self.width, self.height)
        return _Object(sprite, radius, self._motion(radius, diameter, x_range, self.max_speed, self.deformation, rng))

    def _distractor(self, family: tuple, diameter: float, rng: np.random.Generator) -> _Object:
        sprite, radius = self._sprite(family, rng)
        motion = self._motion(radius, diameter, (0, self.width), self.max_speed, self.deformation, rng)
        return _Object(sprite, radius, motion)

    def _occluder(self, max_area: float, family: tuple, rng: np.random.Generator) -> _Object:
        """A rigid object above the targets whose area never exceeds ``max_area`` image pixels."""
        sprite, radius = self._sprite(family, rng)
        sprite_area = float(np.count_nonzero(sprite[..., 3]))
        scale0 = np.sqrt(max_area / sprite_area) / np.exp(self.scale_change)  # at the largest possible scale
        motion = self._motion(radius, 2 * radius * scale0, (0, self.width), 2 * self.max_speed, 0.0, rng)
        return _Object(sprite, radius, motion)

    def _check_track(self, track: int) -> int:
        if not 0 <= track < self.num_tracks():
            raise IndexError(f"{self.name}: track {track} out of range (0..{self.num_tracks() - 1})")
        return int(track)


def _min_area(obj: _Object) -> float:
    """A lower bound of the object's area in image pixels over all frames.

    Rotation and aspect keep the area; scale changes it by ``scale**2``; the deformation waves change it
    by at most the Jacobian factor ``1 + amp**2 * k0 * k1``.
    """
    m = obj.motion
    sprite_area = float(np.count_nonzero(obj.sprite_rgba[..., 3]))
    deform_factor = 1 + m.deform_amp ** 2 * m.deform_k[0] * m.deform_k[1]
    return sprite_area * (m.scale0 * np.exp(-m.scale_amp)) ** 2 / deform_factor


def _angular(rng: np.random.Generator, n: int) -> np.ndarray:
    return 2 * np.pi / rng.uniform(*PERIOD_FRAMES, n)


def _family(rng: np.random.Generator, saturation: tuple[int, int] = (60, 256),
            value: tuple[int, int] = (60, 256)) -> tuple:
    """Procedural texture family: kind and a two-colour palette of HSV ``saturation`` and ``value`` in the given
    ranges; objects of one family look alike."""
    hsv = np.stack([rng.integers(0, 180, 2), rng.integers(*saturation, 2), rng.integers(*value, 2)], axis=1)
    palette = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    return TEXTURE_KINDS[int(rng.integers(len(TEXTURE_KINDS)))], palette


def _texture(family: tuple, size_hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 texture of the family (new phase, orientation and scale each call).

    Periodic kinds are one colourised unit cell tiled, rotated and scaled by a single wrapping warp,
    which keeps a full background texture well under a millisecond. A photo family (``("photo", index, pale)``)
    gives a rotated, scaled crop of that photograph; pale crops are washed towards white.
    """
    if family[0] == "photo":
        return _photo_texture(load_photos()[family[1]], size_hw, rng, pale=family[2])
    kind, palette = family
    h, w = size_hw
    period = rng.uniform(*TEXTURE_PERIOD)
    if kind == "noise":
        coarse = rng.random((int(h / period) + 2, int(w / period) + 2, 1)).astype(np.float32)
        return cv2.resize(_colourise(coarse, palette), (w, h), interpolation=cv2.INTER_CUBIC)
    n = TEXTURE_CELL
    centres = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5  # cell coordinates in [-0.5, 0.5)
    cy, cx = centres[:, None], centres[None, :]
    if kind == "stripes":
        t = np.broadcast_to(0.5 + 0.5 * np.cos(2 * np.pi * cx), (n, n))
    elif kind == "checker":
        t = ((cx < 0) ^ (cy < 0)).astype(np.float32)
    else:  # spots
        t = np.clip(1.5 - 5.0 * np.hypot(cx, cy), 0, 1)
    cell = _colourise(t[..., None], palette)
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle) * n / period, np.sin(angle) * n / period
    output_to_cell = np.array([[c, s, rng.uniform(0, n)], [-s, c, rng.uniform(0, n)]])
    # Tile just the cells the rotated output reads (OpenCV's own wrapping border is ~30x slower).
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ output_to_cell.T
    first = np.floor(corners.min(axis=0) / n) - 1
    count = (np.ceil(corners.max(axis=0) / n) + 1 - first).astype(int)
    output_to_cell[:, 2] -= first * n
    return cv2.warpAffine(np.tile(cell, (count[1], count[0], 1)), output_to_cell, (w, h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def _photo_texture(photo: np.ndarray, size_hw: tuple[int, int], rng: np.random.Generator, *,
                   pale: bool) -> np.ndarray:
    """A crop of ``photo`` at a random place, angle and scale (mirrored at its borders), (H, W, 3) uint8."""
    h, w = size_hw
    scale = rng.uniform(*PHOTO_SCALE)  # photo px per output px
    angle = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    centre = rng.uniform(0, 1, 2) * photo.shape[1::-1]
    output_to_photo = np.array([[c, -s, centre[0] - c * w / 2 + s * h / 2],
                                [s, c, centre[1] - s * w / 2 - c * h / 2]])
    crop = cv2.warpAffine(photo, output_to_photo, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT101)
    if not pale:
        return crop
    # Washed towards a light grey: most of the colour gone, the texture kept at lower contrast.
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    colour = rng.uniform(0.0, 0.3)
    contrast = rng.uniform(0.3, 0.8)
    washed = colour * crop + (1 - colour) * grey
    washed = rng.uniform(*LOW_SATURATION_VALUE) * 0.85 + contrast * (washed - washed.mean())
    return np.clip(washed, 0, 255).astype(np.uint8)


def _colourise(t: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Blend the two palette colours with weights ``t`` in [0, 1] (..., 1) -> (..., 3) uint8."""
    return (palette[0] + np.clip(t, 0, 1) * (palette[1] - palette[0])).astype(np.uint8)


def _shape_mask(rng: np.random.Generator) -> np.ndarray:
    """A random shape centred in a SPRITE_SIZE sprite, (S, S) uint8 {0, 1}."""
    mask = np.zeros((SPRITE_SIZE, SPRITE_SIZE), dtype=np.uint8)
    _draw_shape(mask, (SPRITE_SIZE / 2, SPRITE_SIZE / 2), SHAPE_RADIUS * SPRITE_SIZE, 1, rng)
    return mask


def _draw_shape(canvas: np.ndarray, centre_xy: tuple[float, float], r_max: float, value: int,
                rng: np.random.Generator) -> None:
    """Fill a random star-shaped region (ellipse, polygon or smooth blob) of radius <= ``r_max`` in place."""
    kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
    if kind == "ellipse":
        axes = (int(r_max), int(r_max * rng.uniform(0.45, 1.0)))
        centre = (int(centre_xy[0]), int(centre_xy[1]))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, value, thickness=-1)
        return
    if kind == "polygon":
        n = int(rng.integers(3, 9))
        angles = np.sort((np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n)
        radii = rng.uniform(0.6, 1.0, n)
    else:  # blob: smooth radial function
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        harmonics = np.arange(2, 5)
        radii = 1 + (rng.uniform(0, 0.25, 3)[:, None]
                     * np.cos(harmonics[:, None] * angles + rng.uniform(0, 2 * np.pi, 3)[:, None])).sum(0)
    radii = r_max * radii / radii.max()
    points = np.stack([centre_xy[0] + radii * np.cos(angles), centre_xy[1] + radii * np.sin(angles)], axis=1)
    cv2.fillPoly(canvas, [np.rint(points - 0.5).astype(np.int32)], value)


def _add_clutter(background: np.ndarray, new_family: Callable[[], tuple], rng: np.random.Generator) -> None:
    """Static shapes of another texture family (``new_family()``, drawn after the shapes) painted into the
    background (in place)."""
    h, w = background.shape[:2]
    clutter = np.zeros((h, w), dtype=np.uint8)
    for _ in range(CLUTTER_SHAPES):
        r_max = rng.uniform(*CLUTTER_RADIUS) * min(h, w)
        _draw_shape(clutter, (rng.uniform(0, w), rng.uniform(0, h)), r_max, 1, rng)
    cv2.copyTo(_texture(new_family(), (h, w), rng), clutter, background)


_SPRITE_GRID = np.mgrid[0:SPRITE_SIZE, 0:SPRITE_SIZE].astype(np.float32)  # (row, col) pixel indices
_SPRITE_UNIT = (_SPRITE_GRID + 0.5) / (SPRITE_SIZE / 2) - 1  # the same in [-1, 1]
_SPRITE_R2 = (_SPRITE_UNIT ** 2).sum(axis=0)  # squared distance from the sprite centre in those units


def _shaded(sprite: np.ndarray, obj: _Object, t: int) -> np.ndarray:
    """``sprite`` lit from the direction the light has at frame ``t``: brighter on that side, darker at the rim.

    The gain ``1 + amp (cos(a) u / 2 + sin(a) v / 2 - 0.35 r^2)`` is linear in ``cos(a)`` and ``sin(a)``, so the
    three products with the colours are kept per object and each frame only adds them up."""
    if obj._shading_terms is None:
        v, u = _SPRITE_UNIT
        rgb = obj.sprite_rgba[..., :3].astype(np.float32)
        amp = float(obj.shade_amp)
        obj._shading_terms = (rgb * (1 - 0.35 * amp * _SPRITE_R2)[..., None], rgb * (0.5 * amp * u)[..., None],
                              rgb * (0.5 * amp * v)[..., None])
    rim, along_u, along_v = obj._shading_terms
    angle = obj.shade_w * t + obj.shade_phase
    lit = cv2.scaleAdd(along_v, float(np.sin(angle)), cv2.scaleAdd(along_u, float(np.cos(angle)), rim))
    return np.dstack([cv2.convertScaleAbs(np.maximum(lit, 0)), sprite[..., 3]])


def _cast_shadow(image: np.ndarray, obj: _Object, sprite_to_image: np.ndarray, sprite: np.ndarray) -> None:
    """Darken ``image`` (in place) under the object's soft shadow: its shape moved by ``shadow_shift`` and blurred."""
    assert obj.shadow_shift is not None
    h, w = image.shape[:2]
    corners = np.array([[0, 0, 1], [SPRITE_SIZE, 0, 1], [0, SPRITE_SIZE, 1], [SPRITE_SIZE, SPRITE_SIZE, 1]])
    reach = 3 * obj.shadow_sigma + 1
    ends = corners @ sprite_to_image.T + obj.shadow_shift
    x0, y0 = np.maximum(np.floor(ends.min(axis=0) - reach).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(ends.max(axis=0) + reach).astype(int), [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    to_region = sprite_to_image.copy()
    to_region[:, 2] += obj.shadow_shift - [x0, y0]
    alpha = warp_edge_affine(np.ascontiguousarray(sprite[..., 3]), to_region, (x1 - x0, y1 - y0))
    light = 1 - cv2.GaussianBlur(alpha.astype(np.float32) * (float(obj.shadow_darkness) / 255), (0, 0),
                                 max(obj.shadow_sigma, 0.5))
    region = image[y0:y1, x0:x1]
    region[:] = cv2.multiply(region, cv2.merge([light, light, light]), dtype=cv2.CV_8U)


def _sensor(image: np.ndarray, camera: _Camera, t: int) -> np.ndarray:
    """What the sensor and the codec add at frame ``t``: noise (a shifted window of the video's noise field, so no
    per-frame random draw) and JPEG compression."""
    if camera.noise is not None:
        h, w = image.shape[:2]
        dy, dx = (t * 7) % NOISE_MARGIN, (t * 11) % NOISE_MARGIN
        image = np.clip(image + camera.noise[dy: dy + h, dx: dx + w], 0, 255).astype(np.uint8)
    if camera.jpeg_quality:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
        assert ok, "OpenCV failed to encode a JPEG"
        decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        assert decoded is not None, "OpenCV failed to decode its own JPEG"
        image = decoded
    return image


def _draw(image: np.ndarray, owner: np.ndarray, obj: _Object, t: int, object_id: int) -> None:
    """Composite ``obj`` at frame ``t`` into ``image`` (in place) and mark the pixels it covers in ``owner``."""
    m = obj.motion
    centre, sx, sy, angle = m.pose(t)
    sprite = _shaded(obj.sprite_rgba, obj, t) if obj.shade_amp > 0 else obj.sprite_rgba
    if m.deform_amp > 0:  # non-rigid: travelling waves displace rows and columns of the sprite
        rows, cols = _SPRITE_GRID
        phase = m.deform_w * t + m.deform_phase
        du = m.deform_amp * np.sin(m.deform_k[0] * rows[:, :1] + phase[0])
        dv = m.deform_amp * np.sin(m.deform_k[1] * cols[:1, :] + phase[1])
        sprite = cv2.remap(sprite, (cols + du).astype(np.float32), (rows + dv).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0)
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c * sx, -s * sy], [s * sx, c * sy]])  # sprite px -> image px (rotation after scaling)
    sprite_to_image = np.concatenate([linear, (centre - linear @ [SPRITE_SIZE / 2, SPRITE_SIZE / 2])[:, None]], 1)
    if obj.shadow_shift is not None:
        _cast_shadow(image, obj, sprite_to_image, sprite)
    extent = (obj.radius + m.deform_amp) * max(sx, sy) + 1
    h, w = owner.shape
    x0, y0 = max(int(centre[0] - extent), 0), max(int(centre[1] - extent), 0)
    x1, y1 = min(int(np.ceil(centre[0] + extent)), w), min(int(np.ceil(centre[1] + extent)), h)
    if x1 <= x0 or y1 <= y0:
        return
    offset = centre - np.array([x0, y0]) - linear @ np.array([SPRITE_SIZE / 2, SPRITE_SIZE / 2])
    warped = warp_edge_affine(sprite, np.concatenate([linear, offset[:, None]], axis=1), (x1 - x0, y1 - y0))
    alpha = warped[..., 3:4].astype(np.uint16)
    region = image[y0:y1, x0:x1]
    region[:] = ((warped[..., :3] * alpha + region * (255 - alpha) + 127) // 255).astype(np.uint8)
    owner[y0:y1, x0:x1][warped[..., 3] >= 128] = object_id


def _motion_blur(image: np.ndarray, motion: _Motion, t: int, strength: float) -> np.ndarray:
    """Blur along the target's motion at frame ``t``, with a kernel as long as ``strength`` times its step."""
    velocity = motion.centre(t + 0.5) - motion.centre(t - 0.5)
    length = round(strength * float(np.hypot(*velocity)))
    if length < 2:
        return image
    size = length | 1
    kernel = np.zeros((size, size), dtype=np.float32)
    direction = velocity / np.hypot(*velocity) * (size - 1) / 2
    centre = np.array([size // 2, size // 2])
    p0, p1 = np.rint(centre - direction).astype(int), np.rint(centre + direction).astype(int)
    cv2.line(kernel, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 1.0)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


CALIBRATION_SEED = 20190617  # int8 calibration videos, distinct from training and benchmark seeds
CALIBRATION_SEARCH_FRAME = 3  # each pair's search crop comes from this later frame of the template's video


def synthetic_calibration() -> Calibration:
    """int8 calibration (:mod:`siammask.onnx.calibration`) on the synthetic videos: each video's first frame and
    target box, and a later frame; rendered only when graphs are quantised. An entry point hands it in for
    ``calibration=synthetic``."""

    def pairs() -> list[Pair]:
        videos = SyntheticVideos(num_videos=CALIBRATION_PAIRS, num_frames=CALIBRATION_SEARCH_FRAME + 1,
                                 seed=CALIBRATION_SEED)
        return [(videos.render(v, 0)[0], videos.render(v, 0)[1][0], videos.render(v, CALIBRATION_SEARCH_FRAME)[0])
                for v in range(CALIBRATION_PAIRS)]

    return Calibration(f"synthetic:{CALIBRATION_SEED}:{CALIBRATION_PAIRS}", pairs)
