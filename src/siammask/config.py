"""Small glue for the Hydra entry points (train.py, eval.py, track.py): resolvers, list instantiation, and the
record of a run (configuration, overrides, git state) that every logger receives."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def register_resolvers() -> None:
    """``${wandb_offline:}`` is true unless W&B credentials exist, so logging never blocks on a login.
    ``${fast_precision:<accelerator>}`` is bf16 mixed precision where the hardware runs bf16 natively.
    ``${run_name:}`` names a run after its command-line overrides; ``${run_group:}`` is one name shared by the
    jobs of a multirun (null for a single run)."""
    resolvers = (("wandb_offline", _wandb_offline), ("fast_precision", fast_precision), ("run_name", _run_name),
                 ("run_group", _run_group))
    for name, resolver in resolvers:
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


# Overrides that say where a run goes, not what it is; left out of run names.
_NAME_SKIPS = ("hydra.", "hydra/", "paths.", "ckpt_path", "logger")


def run_name(overrides: Sequence[str], default: str) -> str:
    """``model/backbone=resnet18 model.optimizer.lr=0.01`` -> ``backbone=resnet18,lr=0.01``: the last part of
    each key, so sweeps read well in W&B; ``default`` (the task name) when nothing was overridden."""
    parts = []
    for override in overrides:
        key, sep, value = override.lstrip("+").partition("=")
        if key.lstrip("~").startswith(_NAME_SKIPS):
            continue
        short = key.replace("/", ".").rsplit(".", 1)[-1]
        parts.append(f"{'~' if key.startswith('~') else ''}{short}{sep}{value}")
    return ",".join(parts) or default


def _run_name() -> str:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "run"
    hydra_cfg = HydraConfig.get()
    return run_name(hydra_cfg.overrides.task, hydra_cfg.job.name)


def _run_group() -> str | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    hydra_cfg = HydraConfig.get()
    return f"{hydra_cfg.job.name}-{Path(hydra_cfg.sweep.dir).name}"


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> one level with ``/``-joined keys (what logger hparams tables show)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def git_state(folder: str | Path) -> dict[str, Any]:
    """Commit of the repository holding ``folder`` and whether tracked files differ from it ("unknown" outside
    git), so a logged run says which code made it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"git/commit": git("rev-parse", "HEAD"), "git/dirty": bool(git("status", "--porcelain",
                                                                              "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"git/commit": "unknown", "git/dirty": None}


def run_record(cfg: DictConfig, overrides: Sequence[str], code_dir: str | Path) -> dict[str, Any]:
    """What every logger gets: the resolved configuration (flattened), the command-line overrides, git state."""
    config = OmegaConf.to_container(cfg, resolve=True)
    return {**flatten(config), "overrides": " ".join(overrides), **git_state(code_dir)}
