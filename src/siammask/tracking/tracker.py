"""The SiamMask tracker (paper §3.2-3.3; the release's ``siamese_init`` / ``siamese_track``) for many targets.

Per frame and for all targets together: one search crop per target around its previous position, ONE
network call on the stacked crops against the cached template features, the best candidate per target
under the scale / aspect-ratio penalty and the cosine window, the mask decoded only at that candidate's
response window (RoW), warped back into the image and thresholded, and the outputs derived from it.

Crops, box decoding, mask paste-back and rotated boxes follow ``config.geometry``
(:mod:`siammask.tracking.geometry`): ``release`` redoes the official release's rounded arithmetic, so its weights
give its tracks; ``exact`` uses :class:`~siammask.geometry.CropWindow`'s continuous affine as training crops do,
and rotated boxes enclose whole mask pixels (edge coordinates) rather than the release's pixel centres.

Two-branch networks (no box head) have no per-candidate boxes, so the scale / ratio penalty cannot rank
candidates: the best position is chosen from the similarity score and the cosine window alone; the box of
that candidate is the min-max box of its mask (the two-branch variant of paper §3.2 has no box branch), and
the penalty of that one box scales its learning rate exactly as for the three-branch tracker. When its mask
is empty, the target moves to the RoW centre and keeps its size.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.special import expit

from siammask.anchors import AnchorSpec, box_deltas_map, decode_boxes, position_centres
from siammask.box_coding import BoxDecoder
from siammask.geometry import (
    check_box_xyxy,
    cxcywh_to_xyxy,
    mask_to_box_xyxy,
    polygon_from_box_xyxy,
    xyxy_to_cxcywh,
)
from siammask.models import SearchOutput, SiamMask
from siammask.tracking.geometry import (
    MaskWindow,
    ReleaseSearchWindow,
    SearchWindow,
    candidate_dtype,
    foreground_probability,
    pad_colour,
    search_window,
    template_crop,
)
from siammask.tracking.postprocess import MaskShape, mask_shape
from siammask.tracking.tracker_config import TrackerConfig

if TYPE_CHECKING:  # the ONNX backend is imported only when chosen
    from siammask.onnx import OnnxNetwork
    from siammask.tracking.bf16_network import Bf16Network


@dataclass
class TrackResult:
    """One target in one frame, in image pixels (edge coordinates).

    ``box_xyxy`` is the tracker's box (its state: centre and size, the release's ``target_pos`` /
    ``target_sz``, what OTB-style results report); ``rotated_box`` is always the minimum-area rectangle of the
    mask (the tracked box's corners when the mask is too small or disabled); ``polygon`` is the region chosen
    by the config's ``box_mode`` (4 corners; what VOT scores); ``mask`` is uint8 0/1 of the image's size or
    None when masks are disabled; ``score`` is the foreground probability of the chosen candidate.
    """

    box_xyxy: np.ndarray
    rotated_box: np.ndarray
    polygon: np.ndarray
    mask: np.ndarray | None
    score: float


@dataclass
class StageTimes:
    """Seconds spent in the last :meth:`Tracker.track` call, for benchmarking."""

    crop: float = 0.0
    network: float = 0.0
    post: float = 0.0


@dataclass
class _Targets:
    """Tracked state of all targets: row ``t`` of each array is target ``t``; sizes in image pixels."""

    centre_xy: np.ndarray  # (T, 2)
    size_wh: np.ndarray  # (T, 2)
    template_features: torch.Tensor  # (T, C, h, w)
    pad_colour: np.ndarray  # (T, 3) mean colour of the frame each target started in (crop padding)

    def extended(self, other: _Targets) -> _Targets:
        """These targets followed by ``other``'s."""
        return _Targets(np.concatenate([self.centre_xy, other.centre_xy]),
                        np.concatenate([self.size_wh, other.size_wh]),
                        torch.cat([self.template_features, other.template_features]),
                        np.concatenate([self.pad_colour, other.pad_colour]))


@dataclass
class _Choice:
    """The chosen candidate per target: its RoW (row, col), the box a box-conditioned refine decodes (the box
    branch's, else the previous size at the RoW) and, with a box branch, its box and penalty in the image."""

    rows: np.ndarray  # (T,)
    cols: np.ndarray  # (T,)
    score: np.ndarray  # (T,) foreground probability
    query_cxcywh_crop: np.ndarray  # (T, 4) search-crop pixels
    box_cxcywh: np.ndarray | None = None  # (T, 4) image pixels
    penalty: np.ndarray | None = None  # (T,)


@dataclass
class _Masks:
    """Per target: full-image binary mask (or None) and the shape of its largest part (or None)."""

    masks: list[np.ndarray | None] = field(default_factory=list)
    shapes: list[MaskShape | None] = field(default_factory=list)


class Tracker:
    """Tracks several targets of one video; ``init`` once, then ``track`` each following frame.

    ``decoder`` is the box family the network was trained with (its anchors, or an anchor-free head's points;
    :func:`load_tracker` reads it from the checkpoint): it turns the score and box maps into candidates, which the
    tracker ranks alike for every family. Images are HxWx3 uint8 RGB. The network is moved to ``device`` and put in eval mode
    (BatchNorm on running statistics, which also makes batched targets independent of each other): a
    caller tracking with a network it is still training switches it back with ``network.train()``.
    """

    def __init__(self, network: SiamMask | OnnxNetwork | Bf16Network, config: TrackerConfig | Mapping,
                 device: str | torch.device = "cpu", decoder: BoxDecoder | None = None) -> None:
        self.config = TrackerConfig.from_mapping(config)
        self.device = torch.device(device)
        self.network = network.eval().to(self.device)
        self.decoder = decoder = decoder or AnchorSpec()  # default: the release's anchors
        self.has_box_branch = network.box_head is not None
        self.timings = StageTimes()
        if network.box_head is not None:
            need = (decoder.score_channels, decoder.box_channels)
            if (network.score_head.out_channels, network.box_head.out_channels) != need:
                raise ValueError(f"network heads give {network.score_head.out_channels} score / "
                                 f"{network.box_head.out_channels} box channels, the box decoder {decoder} needs "
                                 f"{need[0]} / {need[1]}")
        elif not self.config.mask_enabled:
            raise ValueError("a two-branch network (no box head) gets its box from the mask: "
                             "set mask_enabled=true")
        if self.has_box_branch and self.config.geometry == "release" and not isinstance(decoder, AnchorSpec):
            raise ValueError(f"geometry=release redoes the release's anchor decoding; a {type(decoder).__name__} box "
                             f"head has no release arithmetic to follow: use geometry=exact")
        self._release_grids: dict[int, np.ndarray] = {}
        self._targets: _Targets | None = None
        self._image_hw: tuple[int, int] = (0, 0)

    def fresh(self) -> Tracker:
        """Another tracker on the same network, config, device and box decoder, with no targets: one per sequence
        of a benchmark (or per checkpoint being scored) without loading the network again."""
        return Tracker(self.network, self.config, self.device, self.decoder)

    @property
    def _state(self) -> _Targets:
        """The tracked targets, for the steps that run only after ``init`` has set them."""
        assert self._targets is not None, "a tracking step ran before init"
        return self._targets

    @property
    def num_targets(self) -> int:
        return 0 if self._targets is None else len(self._targets.centre_xy)

    @torch.inference_mode()
    def init(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray | Sequence | None = None,
             masks: np.ndarray | None = None) -> list[TrackResult]:
        """Start tracking targets given by boxes (T, 4) or (4,), or by masks (T, H, W) / (H, W) if boxes are None.

        Targets tracked so far are forgotten (kept if the arguments are refused). With masks, the boxes
        default to the masks' bounds (as the release initialises DAVIS). Returns the first frame's
        results: the given boxes (and masks), score 1.
        """
        image = _check_image(image_rgb, "init image")
        targets, first_masks = self._new_targets(image, boxes_xyxy, masks)
        self._targets, self._image_hw = targets, image.shape[:2]
        return self._results(first_masks, np.ones(self.num_targets))

    @torch.inference_mode()
    def add(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray | Sequence | None = None,
            masks: np.ndarray | None = None) -> list[TrackResult]:
        """Start tracking more targets from this frame, as :meth:`init` does, next to those already tracked.

        Tracked targets keep their state and come first in ``track``'s results; the new ones join the same
        batched network call (objects that appear later in a DAVIS 2017 or YouTube-VOS video). Returns the
        new targets' results for this frame.
        """
        if self._targets is None:
            return self.init(image_rgb, boxes_xyxy, masks)
        image = _check_image(image_rgb, "added targets' image")
        if image.shape[:2] != self._image_hw:
            raise ValueError(f"Tracker.add got a {image.shape[1]}x{image.shape[0]} image, the tracked targets are "
                             f"in {self._image_hw[1]}x{self._image_hw[0]} frames: all frames must have one size")
        targets, first_masks = self._new_targets(image, boxes_xyxy, masks)
        first = self.num_targets
        self._targets = self._targets.extended(targets)
        return self._results(first_masks, np.ones(len(targets.centre_xy)), first)

    def _new_targets(self, image: np.ndarray, boxes_xyxy: np.ndarray | Sequence | None,
                     masks: np.ndarray | None) -> tuple[_Targets, _Masks]:
        """Checked boxes and masks -> the targets' state with their template features, and their given masks."""
        hw = image.shape[:2]
        mask_stack = _check_masks(masks, hw) if masks is not None else None
        if boxes_xyxy is None:
            if mask_stack is None:
                raise ValueError("Tracker.init / add needs boxes_xyxy or masks")
            boxes = np.stack([_mask_bounds(m, i) for i, m in enumerate(mask_stack)])
        else:
            boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
            boxes = np.stack([check_box_xyxy(b, hw, what=f"target {i} box") for i, b in enumerate(boxes)])
        if mask_stack is not None and len(mask_stack) != len(boxes):
            raise ValueError(f"Tracker.init / add got {len(boxes)} boxes but {len(mask_stack)} masks")
        cfg = self.config
        pads = np.tile(pad_colour(cfg.geometry, image), (len(boxes), 1))
        cxcywh = xyxy_to_cxcywh(boxes)
        templates = self.network.embed_template(self._to_tensor([
            template_crop(cfg.geometry, image, box[:2], box[2:], cfg.context_amount, cfg.exemplar_size, pad)
            for box, pad in zip(cxcywh, pads)]))
        given = _Masks()
        for t in range(len(boxes)):
            mask = None if mask_stack is None else (mask_stack[t] > 0).astype(np.uint8)
            given.masks.append(mask)
            given.shapes.append(None if mask is None else mask_shape(mask, (0, 0), cfg.min_contour_area,
                                                                     pixel_corners=cfg.geometry == "exact"))
        return _Targets(cxcywh[:, :2].copy(), cxcywh[:, 2:].copy(), templates, pads), given

    @torch.inference_mode()
    def track(self, image_rgb: np.ndarray) -> list[TrackResult]:
        """Advance every target by one frame; one result per target, in ``init`` order."""
        if self._targets is None:
            raise RuntimeError("Tracker.track called before Tracker.init")
        image = _check_image(image_rgb, "frame")
        if image.shape[:2] != self._image_hw:
            raise ValueError(f"frame is {image.shape[1]}x{image.shape[0]}, the tracker was initialised on a "
                             f"{self._image_hw[1]}x{self._image_hw[0]} image: all frames must have one size")
        cfg, targets = self.config, self._targets
        clock = _Clock(self.device)

        windows = [search_window(cfg.geometry, c, s, cfg.context_amount, cfg.exemplar_size, cfg.search_size,
                                 self._image_hw) for c, s in zip(targets.centre_xy, targets.size_wh)]
        search = self._to_tensor([w.crop(image, pad) for w, pad in zip(windows, targets.pad_colour)])
        crop_time = clock.lap()

        output = self.network(targets.template_features, search, with_mask=cfg.mask_enabled)
        network_time = clock.lap()

        choice = self._choose(output, windows)
        post_time = clock.lap()

        masks = _Masks()
        if cfg.mask_enabled:
            probabilities = self._mask_probabilities(output, choice)
            network_time += clock.lap()
            row_windows = self._row_windows(windows, choice, output.score.shape[-1], probabilities.shape[-1])
            masks = self._paste_masks(probabilities, row_windows)
            if not self.has_box_branch:
                self._box_from_masks(choice, masks, row_windows)
        self._update_state(choice)
        results = self._results(masks, choice.score)
        post_time += clock.lap()
        self.timings = StageTimes(crop_time, network_time, post_time)
        return results

    def _to_tensor(self, crops_hwc: list[np.ndarray]) -> torch.Tensor:
        """HWC uint8 crops -> (T, 3, H, W) float 0-255 on the device (uint8 travels, float is made there)."""
        return torch.from_numpy(np.stack(crops_hwc)).to(self.device).permute(0, 3, 1, 2).float()

    def _choose(self, output: SearchOutput, windows: list[SearchWindow]) -> _Choice:
        """Best candidate per target: foreground probability x shape penalty, blended with the cosine window at the
        candidate's position; the candidates are the box family's (``decoder``)."""
        cfg = self.config
        num = len(windows)
        score = output.score.double().cpu().numpy()
        window = cosine_window(score.shape[-1])
        if not self.has_box_branch:
            probability = expit(score[:, 0])  # (T, S, S) similarity logits -> probability
            ranked = probability * (1 - cfg.window_influence) + window * cfg.window_influence
            flat = ranked.reshape(num, -1).argmax(axis=1)
            rows, cols = np.unravel_index(flat, ranked.shape[1:])
            centres = np.asarray(_position_centres(score.shape[-1], cfg.search_size, self.decoder.stride))
            scale = np.array([w.scale for w in windows])  # crop pixels per image pixel
            query = np.concatenate([np.stack([centres[cols], centres[rows]], axis=1),
                                    self._state.size_wh * scale[:, None]], axis=1)
            return _Choice(rows, cols, probability[np.arange(num), rows, cols], query)
        assert output.box is not None  # a network with a box head outputs a box map
        if cfg.geometry == "release":
            return self._choose_as_release(output, windows, window)
        candidates = self.decoder.candidates(output.score.double().cpu(), output.box.double().cpu(), cfg.search_size)
        probability = candidates.probability.numpy()  # (T, N)
        boxes = candidates.boxes_cxcywh.numpy()  # (T, N, 4) crop pixels
        positions = candidates.positions.numpy()  # (N,)
        scale = np.array([w.scale for w in windows])  # crop pixels per image pixel
        target_wh = self._state.size_wh * scale[:, None]  # crop pixels
        penalty = shape_penalty(boxes[..., 2], boxes[..., 3], target_wh[:, :1], target_wh[:, 1:], cfg.penalty_k)
        ranked = penalty * probability * (1 - cfg.window_influence) + window.reshape(-1)[positions] * cfg.window_influence
        best = ranked.argmax(axis=1)
        t = np.arange(num)
        rows, cols = np.divmod(positions[best], score.shape[-1])
        box_crop = boxes[t, best]
        centres = np.stack([w.points_to_image(xy) for w, xy in zip(windows, box_crop[:, :2])])
        box_image = np.concatenate([centres, box_crop[:, 2:] / scale[:, None]], axis=1)
        return _Choice(rows, cols, probability[t, best], box_crop, box_image, penalty[t, best])

    def _choose_as_release(self, output: SearchOutput, windows: list[SearchWindow], window: np.ndarray) -> _Choice:
        """:meth:`_choose` in the release's arithmetic and precision (``geometry=release``, anchors only): the
        softmax, decoding and penalty in float32 around the crop centre, as siamese_track does
        (:func:`~siammask.tracking.geometry.candidate_dtype`); a float64 decode breaks its near-ties the other way."""
        cfg, num = self.config, len(windows)
        assert isinstance(self.decoder, AnchorSpec) and output.box is not None  # checked in __init__
        k, size = self.decoder.num_anchors, output.score.shape[-1]
        dtype = candidate_dtype(cfg.geometry)
        probability = foreground_probability(cfg.geometry, output.score, k)  # (T, k, S, S)
        deltas = box_deltas_map(output.box.detach().float().cpu(), k).numpy().astype(dtype)  # (T, k, S, S, 4)
        anchor_wh = self.decoder.base_sizes().numpy().astype(dtype)  # (k, 2) crop pixels
        scale = np.array([w.scale for w in windows])  # crop pixels per image pixel
        target_wh = (self._state.size_wh * scale[:, None])[:, None, None, None]  # crop pixels, over (k, S, S)
        penalty = shape_penalty(np.exp(deltas[..., 2]) * anchor_wh[:, 0, None, None],
                                np.exp(deltas[..., 3]) * anchor_wh[:, 1, None, None],
                                target_wh[..., 0], target_wh[..., 1], cfg.penalty_k)
        ranked = penalty * probability * dtype(1 - cfg.window_influence) + window * cfg.window_influence
        anchor, rows, cols = np.unravel_index(ranked.reshape(num, -1).argmax(axis=1), ranked.shape[1:])
        t = np.arange(num)
        if size not in self._release_grids:
            self._release_grids[size] = self.decoder.grid(size, cfg.search_size).double().numpy()
        grid = self._release_grids[size][anchor, rows, cols]
        chosen = deltas[t, anchor, rows, cols]
        release_windows = [w for w in windows if isinstance(w, ReleaseSearchWindow)]
        assert len(release_windows) == num  # geometry=release makes release windows
        box_image = np.stack([w.box_to_image(d, a) for w, d, a in zip(release_windows, chosen, grid)])
        box_crop = decode_boxes(torch.from_numpy(chosen.astype(np.float64)), torch.from_numpy(grid)).numpy()
        return _Choice(rows, cols, probability[t, anchor, rows, cols], box_crop, box_image,
                       penalty[t, anchor, rows, cols])

    def _mask_probabilities(self, output: SearchOutput, choice: _Choice) -> np.ndarray:
        """(T, m, m) mask probabilities, decoded only at each target's chosen RoW and box."""
        device = output.score.device
        batch, rows, cols = (torch.as_tensor(v, dtype=torch.int64, device=device)
                             for v in (np.arange(len(choice.rows)), choice.rows, choice.cols))
        centred_xyxy = cxcywh_to_xyxy(choice.query_cxcywh_crop) - self.config.search_size / 2
        boxes = torch.as_tensor(centred_xyxy, dtype=torch.float32, device=device)
        logits = self.network.masks_at(output, batch, rows, cols, boxes, refine=self.config.refine)
        return torch.sigmoid(logits).float().cpu().numpy()

    def _row_windows(self, windows: list[SearchWindow], choice: _Choice, score_size: int,
                     mask_size: int) -> list[MaskWindow]:
        """Image window of each target's mask: the square of the search crop the decoder says its mask covers (an
        exemplar-sized square at the chosen response for RoW decoders, one around the box for box-conditioned)."""
        cfg = self.config
        centres = np.asarray(_position_centres(score_size, cfg.search_size, self.decoder.stride))
        row_centres = np.stack([centres[choice.cols], centres[choice.rows]], axis=1)
        row_windows = np.concatenate([row_centres - cfg.exemplar_size / 2, row_centres + cfg.exemplar_size / 2], axis=1)
        squares = self.network.mask_windows_xyxy(torch.from_numpy(row_windows),
                                                 torch.from_numpy(cxcywh_to_xyxy(choice.query_cxcywh_crop)),
                                                 refine=cfg.refine).numpy()
        squares_cxcywh = xyxy_to_cxcywh(squares)
        return [w.mask_window(float(cx), float(cy), float(side), mask_size)
                for w, (cx, cy, side, _) in zip(windows, squares_cxcywh)]

    def _paste_masks(self, probabilities: np.ndarray, row_windows: list[MaskWindow]) -> _Masks:
        """Warp each RoW's probabilities into the image (only where it can exceed the threshold) and threshold."""
        cfg = self.config
        out = _Masks()
        for probability, row_window in zip(probabilities, row_windows):
            mask = np.zeros(self._image_hw, dtype=np.uint8)
            bounds = row_window.support_bounds(probability, cfg.seg_thr, self._image_hw)
            shape = None
            if bounds is not None:
                x0, y0, x1, y1 = bounds
                region = (row_window.paste_region(probability, bounds) > cfg.seg_thr).view(np.uint8)
                mask[y0:y1, x0:x1] = region
                shape = mask_shape(region, (x0, y0), cfg.min_contour_area, pixel_corners=cfg.geometry == "exact")
            out.masks.append(mask)
            out.shapes.append(shape)
        return out

    def _box_from_masks(self, choice: _Choice, masks: _Masks, row_windows: list[MaskWindow]) -> None:
        """Two-branch: each candidate's box is its mask's min-max box (RoW centre, same size if no mask)."""
        boxes = [xyxy_to_cxcywh(shape.minmax_xyxy) if shape is not None
                 else np.array([*row_window.centre_xy, *size])
                 for shape, row_window, size in zip(masks.shapes, row_windows, self._state.size_wh)]
        choice.box_cxcywh = np.stack(boxes)
        size = self._state.size_wh
        choice.penalty = shape_penalty(choice.box_cxcywh[:, 2], choice.box_cxcywh[:, 3], size[:, 0], size[:, 1],
                                       self.config.penalty_k)

    def _update_state(self, choice: _Choice) -> None:
        """Move to the candidate; blend the size by lr x penalty x score (release); clamp as the release."""
        cfg, targets = self.config, self._state
        assert choice.box_cxcywh is not None and choice.penalty is not None  # from the box head or the masks
        rate = ((choice.penalty * choice.score).astype(np.float64) * cfg.lr)[:, None]  # release: float64 lr
        centre = choice.box_cxcywh[:, :2]
        size = targets.size_wh * (1 - rate) + choice.box_cxcywh[:, 2:] * rate
        limit = np.array([self._image_hw[1], self._image_hw[0]], dtype=np.float64)
        targets.centre_xy = np.clip(centre, 0.0, limit)
        targets.size_wh = np.maximum(np.minimum(size, limit), cfg.min_size)

    def _results(self, masks: _Masks, scores: np.ndarray, first: int = 0) -> list[TrackResult]:
        """Results of targets ``first``, ``first + 1``, ... (``masks`` and ``scores`` hold just those)."""
        targets, mode = self._state, self.config.box_mode
        results = []
        for i, t in enumerate(range(first, len(targets.centre_xy))):
            tracked_xyxy = cxcywh_to_xyxy(np.concatenate([targets.centre_xy[t], targets.size_wh[t]]))
            tracked = polygon_from_box_xyxy(tracked_xyxy)
            shape = masks.shapes[i] if masks.shapes else None
            rotated = shape.rotated_box if shape is not None else tracked
            if mode == "min_area_rect":
                polygon = rotated
            elif mode == "mask_minmax" and shape is not None:
                polygon = polygon_from_box_xyxy(shape.minmax_xyxy)
            else:
                polygon = tracked
            mask = masks.masks[i] if masks.masks else None
            results.append(TrackResult(tracked_xyxy, rotated, polygon, mask, float(scores[i])))
        return results


@functools.lru_cache(maxsize=8)
def cosine_window(score_size: int) -> np.ndarray:
    """(S, S) Hann window, the release's motion prior favouring small displacements."""
    hann = np.hanning(score_size)
    window = np.outer(hann, hann)
    window.setflags(write=False)
    return window


@functools.lru_cache(maxsize=8)
def _position_centres(score_size: int, search_size: int, stride: int) -> tuple[float, ...]:
    return tuple(position_centres(score_size, search_size, stride).tolist())


def shape_penalty(candidate_w: np.ndarray, candidate_h: np.ndarray, target_w: np.ndarray | float,
                  target_h: np.ndarray | float, penalty_k: float) -> np.ndarray:
    """exp(-k (r s - 1)): r, s >= 1 the aspect-ratio and context-size changes from the current box (SiamRPN).

    Sizes broadcast against each other and may be in any common unit: both changes are ratios. The penalty is
    computed in the candidates' precision: the target's padded side and aspect ratio (float64) are cast to it
    before they meet the candidates', as numpy 1.x casts a float64 scalar meeting a float32 array in the release.
    """
    dtype = np.result_type(candidate_w, candidate_h)

    def change(ratio: np.ndarray) -> np.ndarray:
        return np.maximum(ratio, 1.0 / ratio)

    def padded_side(w: np.ndarray | float, h: np.ndarray | float) -> np.ndarray:
        pad = (w + h) * 0.5
        return np.sqrt((w + pad) * (h + pad))

    target_side = np.asarray(padded_side(target_w, target_h)).astype(dtype)
    target_ratio = np.asarray(np.divide(target_w, target_h)).astype(dtype)
    scale_change = change(padded_side(candidate_w, candidate_h) / target_side)
    ratio_change = change(target_ratio / (candidate_w / candidate_h))
    return np.exp(-(ratio_change * scale_change - 1) * dtype.type(penalty_k))


class _Clock:
    """Lap timer; waits for the GPU so each lap holds its own work."""

    def __init__(self, device: torch.device) -> None:
        self.sync = device.type == "cuda"
        self.last = time.perf_counter()

    def lap(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        return elapsed


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        described = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image)
        raise ValueError(f"{what} must be an HxWx3 uint8 RGB array, got {described}")
    return image


def _check_masks(masks: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    stack = np.asarray(masks)
    stack = stack[None] if stack.ndim == 2 else stack
    if stack.ndim != 3 or stack.shape[1:] != tuple(image_hw):
        raise ValueError(f"init masks must be (T, H, W) or (H, W) with H, W = {image_hw}, got shape {stack.shape}")
    return stack


def _mask_bounds(mask: np.ndarray, index: int) -> np.ndarray:
    try:
        return mask_to_box_xyxy(mask)
    except ValueError as error:
        raise ValueError(f"init mask of target {index} is empty: cannot derive its box") from error
