"""Small glue for the Hydra entry points (train.py, eval.py, track.py): resolvers and list instantiation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def register_resolvers() -> None:
    """``${wandb_offline:}`` is true unless W&B credentials exist, so logging never blocks on a login.
    ``${fast_precision:<accelerator>}`` is bf16 mixed precision where the hardware runs bf16 natively.
    ``${required:<message>}`` marks a value the user must give: reading it fails with the message."""
    for name, resolver in (("wandb_offline", _wandb_offline), ("fast_precision", fast_precision),
                           ("required", required)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


def fast_precision(accelerator: str = "cpu") -> str:
    """``bf16-mixed`` on CPUs with AVX512-BF16 / AMX and on bf16-capable GPUs, else ``32-true``.

    On such CPUs bf16 autocast makes the default training step ~1.5x faster (scripts/benchmark_training.py);
    elsewhere bf16 is emulated and slower than fp32, so the choice depends on the machine.
    """
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    if accelerator in ("cpu", "auto"):
        probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return "bf16-mixed" if any(probe is not None and probe() for probe in probes) else "32-true"
    return "32-true"


def required(message: str) -> None:
    """A mandatory value (OmegaConf's ``???`` with a message saying where the value comes from)."""
    raise ValueError(message)


def _wandb_offline() -> bool:
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online":
        return False
    netrc = Path.home() / ".netrc"
    return not (netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"))


def instantiate_list(cfg: DictConfig | None) -> list[Any]:
    """Instantiate every ``_target_`` entry of a group such as ``callbacks`` or ``logger``."""
    from hydra.utils import instantiate

    if not cfg:
        return []
    return [instantiate(entry) for entry in cfg.values() if isinstance(entry, DictConfig) and "_target_" in entry]
