"""Small glue for the Hydra entry points (train.py, eval.py, track.py): resolvers and list instantiation."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
_LOGGED: set[str] = set()  # messages logged once per process (resolvers run at every access)


def register_resolvers() -> None:
    """``${wandb_offline:}`` is true unless W&B credentials exist, so logging never blocks on a login.
    ``${fast_precision:<accelerator>}`` is bf16 mixed precision where it is faster than fp32."""
    for name, resolver in (("wandb_offline", _wandb_offline), ("fast_precision", fast_precision)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


def fast_precision(accelerator: str = "cpu") -> str:
    """The precision of :func:`precision_choice` (the ``${fast_precision:<accelerator>}`` resolver); logs why once."""
    precision, reason = precision_choice(accelerator)
    message = f"precision {precision}: {reason}"
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.info(message)
    return precision


def precision_choice(accelerator: str = "cpu") -> tuple[str, str]:
    """``(precision, reason)``: ``bf16-mixed`` only where bf16 is faster than fp32, else ``32-true``.

    GPUs: where CUDA reports bf16 support. CPUs: only with AMX tiles (``amx_bf16``). AVX512-BF16 alone is not
    enough: without AMX, bf16 autocast trained the default model slower than fp32 (issue 16, 2-core Xeon:
    9.4 vs 10.9 pairs/s, scripts/benchmark_training.py --batch 8).
    """
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return "bf16-mixed", "the GPU runs bf16 natively"
        return "32-true", "the GPU has no native bf16"
    if accelerator not in ("cpu", "auto"):
        return "32-true", f"no bf16 rule for accelerator {accelerator!r}"
    if _cpu_has_amx():
        return "bf16-mixed", "the CPU has AMX (amx_bf16), where bf16 autocast is faster than fp32"
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if probe is not None and probe():
        return "32-true", "the CPU has AVX512-BF16 but no AMX, where bf16 autocast is slower than fp32"
    return "32-true", "the CPU has neither AMX nor AVX512-BF16: bf16 would be emulated"


def _cpu_has_amx() -> bool:
    """AMX as torch sees it, or as the kernel reports it (``amx_bf16`` in /proc/cpuinfo, Linux)."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe()) or "amx_bf16" in _cpu_flags()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


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
