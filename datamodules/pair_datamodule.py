"""LightningDataModule over :class:`~siammask.datamodules.sampler.PairSampler`: the one datamodule every dataset uses.

A dataset config only lists its sources (``SourceSpec``: source object, ``num_use``, ``frame_range``);
sizes, jitter, negatives and photometric augmentation are sampler keyword arguments shared by all.

Epochs: Lightning calls ``set_epoch`` on the train loader's sampler at the start of every epoch. The
train loader therefore always uses :class:`EpochDistributedSampler` (a ``DistributedSampler`` with
the trainer's world size and rank, or 1 and 0 without a trainer) which forwards the epoch to the
dataset; the dataset keeps it in shared memory so persistent workers see it too. Lightning leaves a
``DistributedSampler`` in place, so under DDP each rank reads a disjoint slice of every epoch.

Epoch length: the loader drops the last incomplete batch, so an epoch of fewer pairs than one batch per
process would train nothing. Unless ``sampler.samples_per_epoch`` is given, an epoch therefore holds
``max(sum of num_use, min_steps_per_epoch x batch_size x processes)`` pairs (tracks are drawn again, as the
release repeats its ``num_use`` picks); a given ``samples_per_epoch`` too small for one batch is refused.

Exact resume: the train loader is a :class:`ResumableLoader`, whose place in the epoch goes into checkpoints, so
a run resumed mid-epoch reads the rest of that epoch's samples in order (a sample depends on seed, epoch and
index only). The loader has its own torch generator, so starting an epoch leaves the global RNG (the model's
random draws) untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import pytorch_lightning as pl
import torch
from siammask.datamodules.sampler import PairSampler, SourceSpec
from torch.utils.data import DataLoader, DistributedSampler

VAL_SEED_OFFSET = 1_000_003  # validation pairs use another seed than training pairs

log = logging.getLogger(__name__)


class EpochDistributedSampler(DistributedSampler):
    """``DistributedSampler`` that also hands the epoch to the :class:`PairSampler` it indexes; its next pass
    can start part-way (:meth:`start_next_pass_at`, for a run resumed mid-epoch)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._start = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        cast(PairSampler, self.dataset).set_epoch(epoch)

    def start_next_pass_at(self, position: int) -> None:
        """The next ``__iter__`` skips this rank's first ``position`` indices (once)."""
        self._start = position

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        start, self._start = self._start, 0
        return iter(indices[start:])


class ResumableLoader(DataLoader):
    """Train loader whose place in the epoch goes into checkpoints: Lightning saves ``state_dict`` of a stateful
    loader and calls ``load_state_dict`` before iterating on resume. Lightning fetches exactly one batch per
    step from a sized loader, so the batches yielded in this epoch are the batches trained."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._yielded = 0  # batches handed out in the current pass, including those skipped on resume
        self._resume_batches = 0

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]  # a generator over DataLoader's iterator
        self._yielded, self._resume_batches = self._resume_batches, 0
        if self._yielded:
            assert self.batch_size is not None  # PairDataModule builds its train loader with a batch size
            cast(EpochDistributedSampler, self.sampler).start_next_pass_at(self._yielded * self.batch_size)
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        # getattr: Lightning may swap in a plain sampler (overfit_batches), which has no epoch
        return {"epoch": getattr(self.sampler, "epoch", 0), "batches": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        # The epoch reaches the dataset before any worker renders a sample of the resumed pass.
        cast(EpochDistributedSampler, self.sampler).set_epoch(state["epoch"])
        self._resume_batches = state["batches"] if state["batches"] < len(self) else 0  # at the end: a new epoch


class PairDataModule(pl.LightningDataModule):
    """Training (and optional validation) pairs from lists of sources.

    ``train_sources`` / ``val_sources``: ``SourceSpec`` or mappings ``{source, num_use, frame_range}``.
    ``sampler``: keyword arguments of :class:`PairSampler` for both splits (sizes, context, jitter,
    negative rate, flip, photometric, samples per epoch); ``val_sampler``: overrides for validation
    (the release validates with no template jitter, a small search shift and no negatives).
    ``augment=False`` switches all augmentation off in both splits. ``min_steps_per_epoch``: the smallest
    default epoch, in optimiser steps (see the module docstring).
    """

    def __init__(self, train_sources: Sequence[SourceSpec | Mapping], val_sources: Sequence[SourceSpec | Mapping] |
                 None = None, *, batch_size: int = 16, num_workers: int = 1, pin_memory: bool = False,
                 persistent_workers: bool = True, seed: int = 0, augment: bool = True,
                 sampler: Mapping[str, Any] | None = None, val_sampler: Mapping[str, Any] | None = None,
                 val_batch_size: int | None = None, min_steps_per_epoch: int = 100):
        super().__init__()
        if batch_size < 1 or num_workers < 0:
            raise ValueError(f"batch_size must be >= 1 and num_workers >= 0, got {batch_size}, {num_workers}")
        if min_steps_per_epoch < 1:
            raise ValueError(f"min_steps_per_epoch must be >= 1, got {min_steps_per_epoch}")
        self.min_steps_per_epoch = min_steps_per_epoch
        self.train_sources = list(train_sources)
        self.val_sources = list(val_sources) if val_sources else []
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers and num_workers > 0
        self.seed = seed
        self.augment = augment
        self.sampler_kwargs = dict(sampler or {})
        self.val_sampler_kwargs = {**self.sampler_kwargs, **dict(val_sampler or {})}
        self.train_dataset: PairSampler | None = None
        self.val_dataset: PairSampler | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is None:
            self.train_dataset = self._train_sampler()
        if self.val_dataset is None and self.val_sources:
            self.val_dataset = PairSampler(self.val_sources, seed=self.seed + VAL_SEED_OFFSET, augment=self.augment,
                                           **self.val_sampler_kwargs)

    def _train_sampler(self) -> PairSampler:
        """The training pairs, with an epoch of at least one batch per process (module docstring); logs its size."""
        world_size, _ = self._world()
        batch = self.batch_size * world_size
        dataset = PairSampler(self.train_sources, seed=self.seed, augment=self.augment, **self.sampler_kwargs)
        given = self.sampler_kwargs.get("samples_per_epoch")
        if given is not None and len(dataset) < batch:
            raise ValueError(f"data.sampler.samples_per_epoch={given} is less than one batch "
                             f"({self.batch_size} pairs x {world_size} processes): every epoch would have zero "
                             f"steps; raise it or set it to null (default: {self.min_steps_per_epoch} steps)")
        if given is None and len(dataset) < self.min_steps_per_epoch * batch:
            dataset = PairSampler(self.train_sources, seed=self.seed, augment=self.augment,
                                  **{**self.sampler_kwargs, "samples_per_epoch": self.min_steps_per_epoch * batch})
        sources = [spec.source for spec in dataset.specs]
        tracks = sum(s.num_tracks() for s in sources)
        frames = sum(s.track_length(t) for s in sources for t in range(s.num_tracks()))
        log.info("training data %s: %d tracks, %d frames; %d pairs per epoch, %d steps per epoch "
                 "(batch %d x %d processes)", ", ".join(str(getattr(s, "name", type(s).__name__)) for s in sources),
                 tracks, frames, len(dataset), len(dataset) // batch, self.batch_size, world_size)
        return dataset

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        world_size, rank = self._world()
        sampler = EpochDistributedSampler(self.train_dataset, num_replicas=world_size, rank=rank, shuffle=False,
                                          seed=self.seed, drop_last=True)
        return self._loader(self.train_dataset, sampler, self.batch_size, drop_last=True, loader=ResumableLoader)

    def val_dataloader(self) -> DataLoader | list:
        self.setup("validate")
        if self.val_dataset is None:
            return []
        # A plain sequential sampler; Lightning swaps in a DistributedSampler under DDP.
        return self._loader(self.val_dataset, None, self.val_batch_size, drop_last=False)

    def _loader(self, dataset: PairSampler, sampler: torch.utils.data.Sampler | None, batch_size: int,
                drop_last: bool, loader: type[DataLoader] = DataLoader) -> DataLoader:
        # Samples are seeded by (seed, epoch, index); the loader's own generator only feeds worker seeds.
        return loader(dataset, batch_size=batch_size, sampler=sampler, shuffle=False,
                      num_workers=self.num_workers, pin_memory=self.pin_memory,
                      persistent_workers=self.persistent_workers, drop_last=drop_last,
                      generator=torch.Generator().manual_seed(self.seed))
