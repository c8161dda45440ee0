"""The two SiamMask variants as LightningModules sharing one base (paper §3.2).

Three-branch: anchor score + box + mask. Two-branch: SiamFC similarity score + mask. They differ only
in how the score head is supervised and how the highest-scoring position is read; everything else (the mask
branch, metrics, optimisation, freezing) is shared here.

The batch metrics (``box_iou``, ``mask_iou``) and the prediction images read the score argmax, not the tracker's
choice (:class:`siammask.tracking.Tracker` ranks candidates by score x scale / ratio penalty blended with a cosine
window): that choice needs the target's previous size and position, which a training pair does not carry. They
measure the network, not a tracker preset; tracking itself is measured by the tracking validation callback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from pytorch_lightning.utilities.types import OptimizerConfig, OptimizerLRSchedulerConfig

from siammask.anchors import AnchorSpec
from siammask.checkpoints import init_network_from
from siammask.crop import PAPER_CROP
from siammask.losses import mask_dice_loss, mask_loss, similarity_loss, upsample_masks
from siammask.models import SearchOutput, build_network
from siammask.models.builder import box_decoder
from siammask.models.modes import eval_mode
from siammask.models.windows import crop_windows, row_windows_xyxy, window_offset
from siammask.torch_boxes import box_iou_xyxy, cxcywh_to_xyxy, masks_to_boxes_xyxy

Batch = Mapping[str, torch.Tensor]


class ArgmaxPrediction(NamedTuple):
    """The network's answer at the score argmax of each pair: response ``rows``, ``cols`` (B,), box xyxy (B, 4)
    and mask window xyxy (B, 4) in search-crop pixels, and the binary mask (B, e, e) covering that window (the
    box from the mask without a box branch)."""

    rows: torch.Tensor
    cols: torch.Tensor
    box_xyxy: torch.Tensor
    masks: torch.Tensor
    windows_xyxy: torch.Tensor
BAD_LOSS_POLICIES = ("stop", "skip")  # on a NaN / inf / too large loss: raise, or no update from the batch (release)


class SiamMaskModule(pl.LightningModule):
    """Shared training logic. Sub-configs arrive un-instantiated (``_recursive_: false``) so that the
    checkpoint stores them and :func:`siammask.checkpoints.load_network` can rebuild the network."""

    has_box_branch: bool = True

    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any], head: Mapping[str, Any],
                 refine: Mapping[str, Any] | None = None, loss: Mapping[str, float] | None = None,
                 optimizer: Mapping[str, Any] | None = None, scheduler: Mapping[str, Any] | None = None,
                 anchors: Mapping[str, Any] | None = None, targets: Mapping[str, Any] | None = None,
                 exemplar_size: int = PAPER_CROP.exemplar_size, search_size: int = PAPER_CROP.search_size,
                 train_only: Sequence[str] | None = None,
                 init_from: str | None = None, mask_positions_per_pair: int | None = None,
                 bad_loss: str = "stop", max_loss: float | None = None) -> None:
        super().__init__()
        # Plain containers only, so the checkpoint loads with weights_only=True and rebuilds the network.
        self.save_hyperparameters(_plain({
            "backbone": backbone, "neck": neck, "head": head, "refine": refine or None, "loss": loss, "optimizer": optimizer,
            "scheduler": scheduler, "anchors": anchors, "targets": targets, "exemplar_size": exemplar_size,
            "search_size": search_size, "train_only": train_only, "init_from": init_from,
            "mask_positions_per_pair": mask_positions_per_pair, "bad_loss": bad_loss, "max_loss": max_loss}), logger=False)
        head, refine = self.hparams["head"], self.hparams["refine"]
        self.anchor_spec = AnchorSpec(**(anchors or {}))  # its stride places the RoWs of every family
        self.decoder = box_decoder(head, anchors)  # the box family: anchors, or the head's own (anchor_free)
        if (head.get("box") is not None) != self.has_box_branch:
            raise ValueError(f"{type(self).__name__} {'needs' if self.has_box_branch else 'takes no'} a box head: "
                             f"set model.head.box accordingly (model=three_branch or model=two_branch)")
        if head.get("decoder") is not None and not self.has_box_branch:
            raise ValueError(f"{type(self).__name__} has no box branch, but model.head decodes boxes with "
                             f"{head['decoder'].get('_target_')} (a box head such as model/head=anchor_free): use "
                             f"model=three_branch, or model/head=depthwise / multi_level with model=two_branch")
        self.network = build_network(self.hparams["backbone"], self.hparams["neck"], head, refine, self.decoder)
        self.loss_weights = dict(loss or {})
        self.exemplar_size = exemplar_size
        self.search_size = search_size
        self.mask_positions_per_pair = mask_positions_per_pair
        if bad_loss not in BAD_LOSS_POLICIES:
            raise ValueError(f"model.bad_loss={bad_loss!r}: choose one of {BAD_LOSS_POLICIES}")
        self.bad_loss, self.max_loss = bad_loss, max_loss
        self._skip_update = False  # a training batch since the last optimiser step had a bad loss (bad_loss=skip)
        instantiate(self.hparams["optimizer"], params=[torch.nn.Parameter(torch.zeros(1))])  # bad keys fail now
        if init_from:
            init_network_from(self.network, init_from)
        if train_only:
            if not init_from:
                raise ValueError(f"model.train_only={list(train_only)} freezes the rest of a network that has no "
                                 f"trained weights: pass model.init_from=<base checkpoint>")
            self._freeze_all_but(train_only)
        if self.network.refine is not None:
            # Refine decodes masks from the mask head's correlation feature (SiamMask.masks_at), so the head's own
            # 63x63 decoder takes no part in the loss: a trainable parameter without a gradient stops DDP.
            self.network.mask_head.head.requires_grad_(False)

    # ----- the parts a variant defines -----
    def score_losses(self, output: SearchOutput, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Losses of the score (and box) branch, and the (B, S, S) positions where the mask is trained."""
        raise NotImplementedError

    def highest_score(self, output: SearchOutput) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Score argmax per pair: rows (B,), cols (B,), and the box branch's box xyxy (B, 4) there, or None."""
        raise NotImplementedError

    def _targets_config(self) -> Mapping[str, Any]:
        """The training-target class and its settings (``model.targets``, conf/model/targets), given the anchors here."""
        targets = self.hparams["targets"]
        if not targets or "_target_" not in targets:
            raise ValueError(f"model.targets={targets!r}: give the target assignment's _target_ and "
                             f"settings (conf/model/targets: anchor_iou for three branches, centre for two)")
        return targets

    # ----- shared -----
    def forward(self, template: torch.Tensor, search: torch.Tensor) -> SearchOutput:
        return self.network(self.network.embed_template(template), search)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "val")

    def _step(self, batch: Batch, stage: str) -> torch.Tensor | None:
        output = self(batch["template"], batch["search"])
        losses, mask_positions = self.score_losses(output, batch)
        trained = mask_positions & batch["has_mask"].view(-1, 1, 1)
        limits = [n for n in (self.mask_positions_per_pair if stage == "train" else None,
                              self.network.mask_positions_per_pair) if n]
        if limits:
            trained = sample_per_pair(trained, min(limits))
        b, r, c = trained.nonzero(as_tuple=True)
        boxes_xyxy = batch["search_bbox"][b].float()  # a box-conditioned refine decodes the ground-truth box
        if stage == "train":
            boxes_xyxy = self.network.training_boxes(boxes_xyxy)
        windows_xyxy = self.network.mask_windows_xyxy(self.row_windows_xyxy(r, c, output.score.shape[-1]), boxes_xyxy)
        labels = self._mask_labels(batch["search_mask"], b, windows_xyxy)
        # upsampled to the labels once for both mask losses (their own upsampling is then a no-op)
        mask_logits = upsample_masks(self.network.masks_at(output, b, r, c, self.centred(boxes_xyxy)),
                                     labels.shape[-1])
        losses["mask"] = mask_loss(mask_logits, labels)
        if self.loss_weights.get("mask_dice"):  # optional overlap term (losses.mask_dice_loss)
            losses["mask_dice"] = mask_dice_loss(mask_logits, labels)
        total = sum(self.loss_weights.get(name, 1.0) * value for name, value in losses.items())
        assert isinstance(total, torch.Tensor)  # losses always holds the mask loss
        size = batch["search"].shape[0]
        bad = self._bad_loss(total)
        if bad and self.bad_loss == "stop":
            raise FloatingPointError(f"non-finite or too large {stage} loss {float(total)} at step "
                                     f"{self.global_step}: {({k: float(v) for k, v in losses.items()})} "
                                     f"(model.bad_loss=skip skips such batches, as the release does)")
        if stage == "train" and bad:
            self._skip_update = True  # until the next optimiser step: accumulated gradients include this batch's
        if bad:
            self.log(f"{stage}/skipped_batches", 1.0, on_step=False, on_epoch=True, reduce_fx="sum", sync_dist=True,
                     batch_size=size)
            return total if stage == "train" else None  # backward still runs (DDP); optimizer_step drops the update
        self.log(f"{stage}/loss", total, prog_bar=True, batch_size=size)
        for name, value in losses.items():
            self.log(f"{stage}/loss_{name}", value, batch_size=size)
        for name, value in self._batch_ious(output, batch).items():
            self.log(f"{stage}/{name}", value, prog_bar=stage == "train", batch_size=size)
        return total

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        """With ``bad_loss=skip``, no update from a batch whose loss was bad, as the release (its ``optimizer.step``
        only for a finite loss <= 1e4). The closure (forward, backward, DDP's gradient reduction) runs on every
        process all the same: Lightning forbids skipping ``training_step`` under DDP."""
        if self.bad_loss != "skip":
            return super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        result = optimizer_closure()
        if not self._skip_update:
            optimizer.step(closure=lambda: result)  # precision plugin, clipping and hooks as usual
        self._skip_update = False
        return None

    def _bad_loss(self, total: torch.Tensor) -> bool:
        """NaN, inf or above ``max_loss`` (release: > 1e4), decided alike on every process: all skip together."""
        value = float(total.detach())
        bad = not math.isfinite(value) or (self.max_loss is not None and value > self.max_loss)
        if self._trainer is not None and self.bad_loss == "skip":
            bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)
        return bad

    def _mask_labels(self, masks: torch.Tensor, b: torch.Tensor, windows_xyxy: torch.Tensor) -> torch.Tensor:
        """Ground-truth mask of each query (N, e, e): its window xyxy (search-crop pixels) of the search mask, at
        the exemplar's size (a RoW's window is exemplar-sized: its pixels themselves)."""
        return crop_windows(masks.unsqueeze(1).float(), b, windows_xyxy, self.exemplar_size)[:, 0]

    def row_windows_xyxy(self, rows: torch.Tensor, cols: torch.Tensor, score_size: int) -> torch.Tensor:
        """(N, 4) exemplar-sized window xyxy (search-crop pixels) each RoW looks at."""
        return row_windows_xyxy(rows, cols, self.exemplar_size, self.anchor_spec.stride,
                                self.search_window_offset(score_size))

    def centred(self, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """Boxes xyxy from search-crop pixels to pixels from the crop's centre (what ``masks_at`` takes)."""
        return boxes_xyxy - self.search_size / 2

    @torch.no_grad()
    def argmax_predictions(self, output: SearchOutput) -> ArgmaxPrediction:
        """At the score argmax per pair (not the tracker's penalised, windowed choice; module docstring).

        The query box of a box-conditioned refine is the box branch's box there; without a box branch, a square
        half the RoW's side at its centre (the size a square target has in its exemplar-sized context square)."""
        rows, cols, box_xyxy = self.highest_score(output)
        index = torch.arange(rows.shape[0], device=rows.device)
        row_windows = self.row_windows_xyxy(rows, cols, output.score.shape[-1])
        if box_xyxy is None:
            centre, half = (row_windows[:, :2] + row_windows[:, 2:]) / 2, self.exemplar_size / 4
            query_xyxy = torch.cat([centre - half, centre + half], dim=1)
        else:
            query_xyxy = box_xyxy
        windows_xyxy = self.network.mask_windows_xyxy(row_windows, query_xyxy)
        with eval_mode(self.network):  # a measurement, not a training batch for the refine's BatchNorms
            logits = self.network.masks_at(output, index, rows, cols, self.centred(query_xyxy))
        masks = upsample_masks(logits, self.exemplar_size) > 0
        if box_xyxy is None:
            box_xyxy = _mask_box_in_search(masks, windows_xyxy)
        return ArgmaxPrediction(rows, cols, box_xyxy, masks, windows_xyxy)

    def search_window_offset(self, score_size: int) -> int:
        """Search-crop pixel where position 0's exemplar-sized window starts, for an S x S response map."""
        return window_offset(self.search_size, self.exemplar_size, self.anchor_spec.stride, score_size)

    def _batch_ious(self, output: SearchOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """IoU with the ground truth of the box and of the RoW's mask at the score argmax (not the tracker's choice)."""
        prediction = self.argmax_predictions(output)
        box_xyxy, predicted = prediction.box_xyxy, prediction.masks
        index = torch.arange(box_xyxy.shape[0], device=box_xyxy.device)
        truth = self._mask_labels(batch["search_mask"], index, prediction.windows_xyxy) > 0.5
        positive = ~batch["is_negative"].bool()
        with_mask = positive & batch["has_mask"].bool()
        metrics = {}
        if positive.any():
            metrics["box_iou"] = box_iou_xyxy(box_xyxy[positive], batch["search_bbox"][positive].float()).mean()
        if with_mask.any():
            inter = (predicted & truth).flatten(1).sum(1).float()
            union = (predicted | truth).flatten(1).sum(1).float()
            metrics["mask_iou"] = torch.where(union > 0, inter / union.clamp(min=1), 1.0)[with_mask].mean()
        return metrics

    def on_train_start(self) -> None:
        """Every (re)start of training, a resume included: Lightning gives a run resumed mid-epoch no
        ``on_train_epoch_start``, and its fresh network is all in train mode."""
        self.freeze_batch_norm_statistics()

    def on_train_epoch_start(self) -> None:
        self.freeze_batch_norm_statistics()

    def freeze_batch_norm_statistics(self) -> None:
        """Frozen parts keep their BatchNorm statistics (the release trains them in eval mode). Runs after the
        callbacks' hooks of the same name (Lightning calls callbacks first), so it sees this epoch's trainable set
        (callbacks/unfreeze.py). Validation and the callbacks that track give every module its own mode back
        (Lightning's evaluation loop, :func:`siammask.models.modes.eval_mode`), so the rule holds in between."""
        for module in self.network.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not any(
                    p.requires_grad for p in module.parameters()):
                module.eval()

    # ----- optimisation -----
    def configure_optimizers(self) -> OptimizerConfig | OptimizerLRSchedulerConfig:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = instantiate(self.hparams["optimizer"], params=params)
        if not self.hparams["scheduler"]:
            return {"optimizer": optimizer}
        scheduler = instantiate(self.hparams["scheduler"], optimizer=optimizer,
                                total_steps=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _freeze_all_but(self, prefixes: Sequence[str]) -> None:
        names = [n for n, _ in self.network.named_parameters()]
        unknown = [p for p in prefixes if not any(n.startswith(p) for n in names)]
        if unknown:
            raise ValueError(f"train_only names no parameters: {unknown} (e.g. 'refine', 'mask_head')")
        for name, param in self.network.named_parameters():
            param.requires_grad_(any(name.startswith(p) for p in prefixes))


class ThreeBranchModule(SiamMaskModule):
    """Score (anchor softmax) + box regression + mask: the paper's SiamMask."""

    has_box_branch = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assigner = instantiate(self._targets_config(), _partial_=True)
        family = getattr(assigner.func, "family", None)  # the box family whose targets the class assigns
        if family is None or not isinstance(self.decoder, family):
            raise ValueError(f"model.targets ({self.hparams['targets']['_target_']}) assigns targets for "
                             f"{getattr(family, '__name__', 'no box family')}, the head decodes boxes as "
                             f"{type(self.decoder).__name__}: pick the head's targets (model/targets=anchor_iou for "
                             f"model/head=depthwise / multi_level, model/targets=anchor_free for model/head=anchor_free)")
        self.assign_targets = assigner(spec=self.decoder)

    def score_losses(self, output: SearchOutput, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The box family's own losses (its targets' ``losses``), weighted by model.loss by name."""
        targets = self.assign_targets(batch["search_bbox"], batch["is_negative"], output.score.shape[-1],
                                      self.search_size)
        assert output.box is not None  # the three-branch network has a box head
        return targets.losses(output.score, output.box, self.loss_weights), targets.positive_positions()

    def highest_score(self, output: SearchOutput) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        assert output.box is not None  # the three-branch network has a box head
        candidates = self.decoder.candidates(output.score, output.box, self.search_size)
        best = candidates.probability.argmax(1)
        size = output.score.shape[-1]
        position = candidates.positions[best]
        index = torch.arange(best.shape[0], device=best.device)
        return position // size, position % size, cxcywh_to_xyxy(candidates.boxes_cxcywh[index, best])


class TwoBranchModule(SiamMaskModule):
    """SiamFC-style similarity score + mask: the paper's two-branch variant (box from the mask)."""

    has_box_branch = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_positions = instantiate(self._targets_config(), _partial_=True)(stride=self.anchor_spec.stride)

    def score_losses(self, output: SearchOutput, batch: Batch) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        labels = self.label_positions(batch["search_bbox"], batch["is_negative"], output.score.shape[-1],
                                      self.search_size)
        return {"score": similarity_loss(output.score, labels)}, labels > 0

    def highest_score(self, output: SearchOutput) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        size = output.score.shape[-1]
        best = output.score.flatten(1).argmax(1)
        return best // size, best % size, None


def sample_per_pair(positions: torch.Tensor, count: int) -> torch.Tensor:
    """At most ``count`` of each pair's True positions (B, S, S), drawn uniformly: refine costs per RoW."""
    noise = torch.rand(positions.shape, device=positions.device).masked_fill(~positions, -1.0).flatten(1)
    kth = noise.topk(min(count, noise.shape[1]), dim=1).values[:, -1:]
    return positions & (noise >= kth).view_as(positions)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else (
        {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value)


def _mask_box_in_search(window_masks: torch.Tensor, windows_xyxy: torch.Tensor) -> torch.Tensor:
    """Min-max box xyxy (search-crop pixels) of each binary mask (N, m, m) covering its window xyxy; a zero box
    where the mask is empty."""
    boxes = masks_to_boxes_xyxy(window_masks)  # mask pixels
    scale = (windows_xyxy[:, 2:] - windows_xyxy[:, :2]) / window_masks.shape[-1]  # search pixels per mask pixel
    shifted = boxes * scale.repeat(1, 2) + windows_xyxy[:, :2].repeat(1, 2)
    return torch.where(window_masks.flatten(1).any(1).view(-1, 1), shifted, boxes)
