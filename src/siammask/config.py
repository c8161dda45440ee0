"""Small glue for the Hydra entry points (train.py, eval.py, track.py, siammask.vot): resolvers, list
instantiation, and how a user mistake ends a run."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

# What bad input raises where it enters (a path, a box, a config value, a store): the message says what to fix.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, MissingMandatoryValue)
Result = TypeVar("Result")


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


def user_errors(task: Callable[[DictConfig], Result]) -> Callable[[DictConfig], Result]:
    """Wrap an entry point's task: a user mistake ends the run with its one-line message on stderr and exit
    code 1 instead of a traceback; ``HYDRA_FULL_ERROR=1`` keeps the full trace (Hydra's own switch).

    The mistake may arrive wrapped by ``hydra.utils.instantiate`` (an exception raised from it): the
    innermost user error of the chain is the one that names the input.
    """

    @functools.wraps(task)
    def run(cfg: DictConfig) -> Result:
        try:
            return task(cfg)
        except Exception as error:  # re-raised unless it is a user mistake
            mistake = _user_mistake(error)
            if mistake is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            message = " ".join(str(mistake).split())  # one line, whatever the raiser's layout
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(1) from None

    return run


def _user_mistake(error: BaseException | None) -> BaseException | None:
    found = None
    while error is not None:
        if isinstance(error, USER_ERRORS):
            found = error
        error = error.__cause__
    return found


def project_root() -> str:
    """The folder of train.py and logs/ (``paths.root_dir`` reads ``$PROJECT_ROOT``) for entry points that are
    not scripts in it (``python -m siammask.vot``): the source checkout this package is installed from
    (editable install), else the current folder."""
    checkout = Path(__file__).resolve().parents[2]
    return str(checkout) if (checkout / "pyproject.toml").is_file() else os.getcwd()
