"""Training pairs (template, search) from any list of :class:`~siammask.datamodules.sources.TrackSource`.

Follows the official SiamMask training data path (foolwood/SiamMask ``datasets/siam_mask_dataset.py``,
pysot ``datasets/dataset.py`` / ``augmentation.py``):

* each source contributes ``num_use`` tracks per epoch (its tracks shuffled, repeated if needed), and
  the union is shuffled; with ``pick="video"`` (the release's SubDataSet) ``num_use`` counts videos (images for
  COCO / DET) and each sample takes one track of its video at random, so a crowded image counts once, not once
  per object;
* positive pair: template frame uniform over the track, search frame uniform within ``frame_range``
  of it; negative pair (rate ``negative_rate``): the search frame shows an object of another video;
* each crop is centred on its own frame's object: the exemplar (the sample's ``template``) is the context square
  (SiamFC context 0.5) resampled to 127, the search region the same square enlarged by 255 / 127
  (target at the same scale), both with a random shift/scale of the crop window (release jitter,
  scale drawn independently for x and y) and mean-colour padding.

The jitter and the optional horizontal flip are folded into one affine per crop on top of
:class:`siammask.geometry.CropWindow`, so the image, the mask and the box go through exactly the same
map. Photometric augmentation is image-only (:mod:`siammask.datamodules.augment`).

Every random decision of sample ``index`` comes from ``Generator(SeedSequence([seed, epoch, 1, index]))``,
so a sample depends on (seed, epoch, index) only, not on worker count or order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
from siammask.datamodules.augment import PhotometricAugmentation
from siammask.datamodules.sources import Frame, TrackSource
from torch.utils.data import Dataset

from siammask.crop import PAPER_CROP
from siammask.geometry import (
    CropWindow,
    box_through_affine,
    check_box_xyxy,
    compose_affine,
    mean_colour,
    warp_edge_affine,
)

_TABLE_STREAM, _SAMPLE_STREAM = 0, 1  # keep the epoch table and per-sample streams independent
_MAX_NEGATIVE_DRAWS = 100
PICKS = ("track", "video")  # what an epoch's table lists (PairSampler ``pick``)


@dataclass(frozen=True)
class CropJitter:
    """Random shift/scale of a crop window (release ``augmentation.{template,search}``).

    ``shift``: max |shift| of the window centre in output-crop pixels, uniform per axis.
    ``scale``: the window side is multiplied by ``1 + U(-scale, scale)``, independently for x and y.
    """

    shift: float = 0.0
    scale: float = 0.0

    def __post_init__(self) -> None:
        if self.shift < 0 or not 0 <= self.scale < 1:
            raise ValueError(f"crop jitter needs shift >= 0 and 0 <= scale < 1, got {self}")


@dataclass(frozen=True)
class SourceSpec:
    """A source and how it is sampled: ``num_use`` tracks per epoch (-1 = all), ``frame_range`` frames apart."""

    source: TrackSource
    num_use: int = -1
    frame_range: int = 100

    def __post_init__(self) -> None:
        name = getattr(self.source, "name", type(self.source).__name__)
        if not isinstance(self.source, TrackSource):
            raise TypeError(f"source {name!r} does not implement TrackSource")
        if self.num_use != -1 and self.num_use < 1:
            raise ValueError(f"source {name!r}: num_use must be -1 or >= 1, got {self.num_use}")
        if self.frame_range < 0:
            raise ValueError(f"source {name!r}: frame_range must be >= 0, got {self.frame_range}")


@dataclass(frozen=True)
class FrameRef:
    source: int  # index into the sampler's sources
    track: int
    index: int  # frame index within the track


@dataclass(frozen=True)
class CropPose:
    """Jitter of one crop window: per-axis scale of the window side and shift in output pixels."""

    scale_xy: tuple[float, float] = (1.0, 1.0)
    shift_xy: tuple[float, float] = (0.0, 0.0)

    def affine(self, window: CropWindow, flip: bool) -> np.ndarray:
        """2x3 image->output affine (edge coordinates): ``window``, then this jitter, then the flip."""
        c = window.out_size / 2
        sx, sy = self.scale_xy
        tx, ty = self.shift_xy
        jitter = np.array([[1 / sx, 0.0, c - (c + tx) / sx], [0.0, 1 / sy, c - (c + ty) / sy]])
        if flip:
            jitter[0] = [-jitter[0, 0], 0.0, window.out_size - jitter[0, 2]]
        return compose_affine(jitter, window.affine())


@dataclass(frozen=True)
class PairPlan:
    """Every random decision of one sample; :meth:`PairSampler.render` turns it into tensors."""

    template: FrameRef
    search: FrameRef
    is_negative: bool
    template_pose: CropPose
    search_pose: CropPose
    flip: bool
    photometric_seed: int


class PairSampler(Dataset):
    """Map-style dataset of training pairs; see the module docstring for the sampling rules.

    Defaults are the release's. ``photometric``: a :class:`PhotometricAugmentation`, its keyword arguments
    (default: release values) or None for none. ``augment=False`` switches off crop jitter, flip and
    photometric augmentation (negatives stay). ``samples_per_epoch`` (release ``num``) defaults to the
    sum of the sources' ``num_use``. ``pick``: what an epoch's table lists and ``num_use`` counts, ``"track"``
    (uniform over tracks) or ``"video"`` (a video, then one of its tracks: the release).
    """

    def __init__(self, sources: Sequence[SourceSpec | Mapping], *, seed: int = 0, augment: bool = True,
                 exemplar_size: int = PAPER_CROP.exemplar_size, search_size: int = PAPER_CROP.search_size,
                 context_amount: float = PAPER_CROP.context_amount,
                 template_jitter: CropJitter | Mapping = CropJitter(4.0, 0.05),
                 search_jitter: CropJitter | Mapping = CropJitter(64.0, 0.18),
                 negative_rate: float = 0.2, flip: float = 0.0,
                 photometric: PhotometricAugmentation | Mapping | None = MappingProxyType({}),
                 samples_per_epoch: int | None = None, pick: str = "track"):
        self.specs = [s if isinstance(s, SourceSpec) else SourceSpec(**dict(s)) for s in sources]
        if not self.specs:
            raise ValueError("PairSampler needs at least one source")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if not 0.0 <= negative_rate <= 1.0 or not 0.0 <= flip <= 1.0:
            raise ValueError(f"negative_rate={negative_rate} and flip={flip} must be probabilities in [0, 1]")
        if pick not in PICKS:
            raise ValueError(f"pick={pick!r}: choose one of {PICKS}")
        self.seed = seed
        self.pick = pick
        self.augment = augment
        self.exemplar_size = exemplar_size
        self.search_size = search_size
        self.context_amount = context_amount
        self.template_jitter = _as_jitter(template_jitter)
        self.search_jitter = _as_jitter(search_jitter)
        self.negative_rate = negative_rate
        self.flip = flip
        self.photometric = PhotometricAugmentation(**photometric) if isinstance(photometric, Mapping) else photometric
        for spec in self.specs:
            self._check_stored_crop(spec.source)

        self._num_tracks = np.array([s.source.num_tracks() for s in self.specs], dtype=np.int64)
        for spec, n in zip(self.specs, self._num_tracks):
            if n < 1:
                raise ValueError(f"source {spec.source.name!r} has no tracks")
        # Per source, tracks grouped by video (track ids in video order, and where each video's run starts).
        self._video_tracks = [_tracks_by_video(spec.source) for spec in self.specs] if pick == "video" else None
        self._num_units = self._num_tracks if self._video_tracks is None else np.array(
            [len(starts) - 1 for _, starts in self._video_tracks], dtype=np.int64)
        self._num_use = np.array([n if s.num_use == -1 else s.num_use for s, n in zip(self.specs, self._num_units)])
        self._offsets = np.concatenate([[0], np.cumsum(self._num_units)])
        self._length = int(samples_per_epoch if samples_per_epoch is not None else self._num_use.sum())
        if self._length < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        if negative_rate > 0 and len(self.specs) == 1 and self._single_video(self.specs[0].source):
            raise ValueError(f"negative pairs need a second video, but source {self.specs[0].source.name!r} has one; "
                             "set negative_rate=0 or add a source")
        # Shared memory, so that set_epoch in the main process reaches persistent DataLoader workers.
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._table: tuple[int, np.ndarray] | None = None

    @staticmethod
    def _single_video(source: TrackSource) -> bool:
        n = source.num_tracks()
        return n == 1 or source.video_of(0) == source.video_of(n - 1) == source.video_of(n // 2)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_table"] = None  # rebuilt on demand; keeps worker pickles small
        return state

    def __len__(self) -> int:
        return self._length

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.render(self.plan(index))

    # -- random decisions -------------------------------------------------------------------------------------

    def plan(self, index: int, epoch: int | None = None) -> PairPlan:
        """All random decisions of sample ``index`` of ``epoch`` (default: the current epoch)."""
        if not 0 <= index < self._length:
            raise IndexError(f"sample index {index} out of range for {self._length} samples per epoch")
        epoch = self.epoch if epoch is None else epoch
        global_unit = int(self._epoch_table(epoch)[index])
        source = int(np.searchsorted(self._offsets, global_unit, side="right") - 1)
        unit = global_unit - int(self._offsets[source])
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, _SAMPLE_STREAM, index]))
        track = unit if self._video_tracks is None else self._track_of_video(source, unit, rng)

        is_negative = bool(rng.random() < self.negative_rate)
        length = self.specs[source].source.track_length(track)
        template_index = int(rng.integers(length))
        template = FrameRef(source, track, template_index)
        if is_negative:
            search = self._negative_search(source, track, rng)
        else:
            r = self.specs[source].frame_range
            lo, hi = max(template_index - r, 0), min(template_index + r, length - 1)
            search = FrameRef(source, track, int(rng.integers(lo, hi + 1)))
        template_pose = self._pose(self.template_jitter, rng)
        search_pose = self._pose(self.search_jitter, rng)
        flip = bool(self.augment and rng.random() < self.flip)
        return PairPlan(template, search, is_negative, template_pose, search_pose, flip,
                        int(rng.integers(0, 2**31)))

    def _epoch_table(self, epoch: int) -> np.ndarray:
        """Global track (``pick="video"``: video) id of every sample of ``epoch``, as the release's ``pick`` list."""
        if self._table is not None and self._table[0] == epoch:
            return self._table[1]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, _TABLE_STREAM]))
        table: list[np.ndarray] = []
        while sum(len(t) for t in table) < self._length:
            picks = []
            for offset, n, use in zip(self._offsets[:-1], self._num_units, self._num_use):
                repeats = -(-use // n)
                picks.append(offset + np.concatenate([rng.permutation(n) for _ in range(repeats)])[:use])
            table.append(rng.permutation(np.concatenate(picks)))
        self._table = (epoch, np.concatenate(table)[: self._length])
        return self._table[1]

    def _negative_search(self, source: int, track: int, rng: np.random.Generator) -> FrameRef:
        """A random frame of a track from another (source, video); source chosen uniformly as in the release, then
        a track (``pick="track"``) or a video and one of its tracks (``pick="video"``)."""
        video = self.specs[source].source.video_of(track)
        for _ in range(_MAX_NEGATIVE_DRAWS):
            other = int(rng.integers(len(self.specs)))
            if self._video_tracks is None:
                other_track = int(rng.integers(self._num_tracks[other]))
            else:
                other_track = self._track_of_video(other, int(rng.integers(self._num_units[other])), rng)
            other_source = self.specs[other].source
            if other != source or other_source.video_of(other_track) != video:
                return FrameRef(other, other_track, int(rng.integers(other_source.track_length(other_track))))
        raise RuntimeError(f"no track from another video found in {_MAX_NEGATIVE_DRAWS} draws "
                           f"(template from source {self.specs[source].source.name!r}, video {video})")

    def _track_of_video(self, source: int, video: int, rng: np.random.Generator) -> int:
        """One track of the ``video``-th video of ``source`` (videos numbered in ``video_of`` order), uniformly."""
        assert self._video_tracks is not None  # set whenever sources are picked by video
        order, starts = self._video_tracks[source]
        return int(order[starts[video] + rng.integers(starts[video + 1] - starts[video])])

    def _pose(self, jitter: CropJitter, rng: np.random.Generator) -> CropPose:
        if not self.augment:
            return CropPose()
        scale = 1.0 + jitter.scale * rng.uniform(-1.0, 1.0, size=2)
        shift = jitter.shift * rng.uniform(-1.0, 1.0, size=2)
        return CropPose((float(scale[0]), float(scale[1])), (float(shift[0]), float(shift[1])))

    def _check_stored_crop(self, source: TrackSource) -> None:
        """A source of crops cut in advance (a prepared LMDB store: ``stored_crop``, from its header) must have been
        cut with this sampler's exemplar size and context: else its search crops reach past what was stored."""
        stored = getattr(source, "stored_crop", None)
        if stored is None:
            return
        mine = {"exemplar_size": self.exemplar_size, "context_amount": self.context_amount}
        different = {key: stored.get(key) for key, value in mine.items()
                     if not isinstance(stored.get(key), (int, float)) or not math.isclose(stored[key], value)}
        if different:
            theirs = ", ".join(f"{key}={value}" for key, value in different.items())
            ours = ", ".join(f"{key}={mine[key]}" for key in different)
            raise ValueError(f"source {source.name!r} ({getattr(source, 'path', 'no path')}) was prepared with "
                             f"{theirs}, but the pair sampler crops with {ours} (crop.* in the config): prepare the "
                             f"store again with {ours}, or set the crop node to the store's values")

    # -- rendering ---------------------------------------------------------------------------------------------

    def window(self, box_xyxy: np.ndarray, out_size: int) -> CropWindow:
        """The un-jittered crop window of a crop of side ``out_size`` around an object."""
        return CropWindow.around_box(box_xyxy, out_size, self.context_amount, out_size / self.exemplar_size)

    def load(self, ref: FrameRef) -> Frame:
        """The frame of ``ref``, validated (raises naming source, track and frame index)."""
        source = self.specs[ref.source].source
        return checked_frame(source.frame(ref.track, ref.index), f"source {source.name!r} track {ref.track} "
                                                                  f"frame {ref.index}")

    def crop_affines(self, plan: PairPlan, template: Frame, search: Frame) -> tuple[np.ndarray, np.ndarray]:
        """Image->crop affines (edge coordinates) of the template and the search crop of ``plan``."""
        return (plan.template_pose.affine(self.window(template.box_xyxy, self.exemplar_size), plan.flip),
                plan.search_pose.affine(self.window(search.box_xyxy, self.search_size), plan.flip))

    def render(self, plan: PairPlan) -> dict[str, torch.Tensor]:
        template, search = self.load(plan.template), self.load(plan.search)
        template_affine, search_affine = self.crop_affines(plan, template, search)
        template_rgb = warp_edge_affine(template.image, template_affine, self.exemplar_size,
                                        mean_colour(template.image))
        search_rgb = warp_edge_affine(search.image, search_affine, self.search_size, mean_colour(search.image))
        has_mask = not plan.is_negative and search.mask is not None
        if has_mask:
            # Linear interpolation of a {0, 1} uint8 mask rounds at 0.5: a thresholded resampling.
            search_mask = warp_edge_affine(search.mask, search_affine, self.search_size, 0.0)
        else:
            search_mask = np.zeros((self.search_size, self.search_size), dtype=np.uint8)
        if self.augment and self.photometric is not None:
            template_rgb, search_rgb = self.photometric(template_rgb, search_rgb,
                                                        np.random.default_rng(plan.photometric_seed))
        return {
            "template": _chw(template_rgb),
            "search": _chw(search_rgb),
            "template_bbox": torch.from_numpy(box_through_affine(template.box_xyxy, template_affine).astype(np.float32)),
            "search_bbox": torch.from_numpy(box_through_affine(search.box_xyxy, search_affine).astype(np.float32)),
            "search_mask": torch.from_numpy(search_mask),
            "has_mask": torch.tensor(has_mask),
            "is_negative": torch.tensor(plan.is_negative),
        }


def _tracks_by_video(source: TrackSource) -> tuple[np.ndarray, np.ndarray]:
    """Track ids ordered by video, and the start of each video's run in that order (length: videos + 1)."""
    videos = np.array([source.video_of(t) for t in range(source.num_tracks())])
    _, video_index = np.unique(videos, return_inverse=True)
    order = np.argsort(video_index, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(video_index))])
    return order, starts


def checked_frame(frame: Frame, what: str) -> Frame:
    """Validate a Frame where it enters the sampler, so bad data fails with its origin instead of as NaN."""
    image = frame.image
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"shape {image.shape} dtype {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{what}: image must be HxWx3 uint8 RGB, got {desc}")
    box_xyxy = check_box_xyxy(frame.box_xyxy, image.shape[:2], what=f"{what}: box")
    mask = frame.mask
    if mask is not None and (not isinstance(mask, np.ndarray) or mask.shape != image.shape[:2]
                             or mask.dtype != np.uint8):
        desc = f"shape {mask.shape} dtype {mask.dtype}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"{what}: mask must be HxW uint8 like the image {image.shape[:2]}, got {desc}")
    if mask is not None and mask.max(initial=0) > 1:
        raise ValueError(f"{what}: mask must hold 0/1, found value {int(mask.max())}")
    return Frame(image, box_xyxy, mask)


def _as_jitter(jitter: CropJitter | Mapping) -> CropJitter:
    return jitter if isinstance(jitter, CropJitter) else CropJitter(**dict(jitter))


def _chw(image_hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image_hwc.transpose(2, 0, 1)))
