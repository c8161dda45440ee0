"""Small glue for the Hydra entry points (train.py, eval.py, track.py, siammask.vot; see siammask.command): resolvers, list
instantiation, how a user mistake ends a run, and the record of a run (configuration, overrides, git state)
that every logger receives."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

if TYPE_CHECKING:
    from siammask.onnx.calibration import Calibration

# What bad input raises where it enters (a path, a box, a config value, a store): the message says what to fix.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, MissingMandatoryValue)
Result = TypeVar("Result")

log = logging.getLogger(__name__)
_LOGGED: set[str] = set()  # messages logged once per process (resolvers run at every access)


def register_resolvers() -> None:
    """``${wandb_offline:}`` is true unless W&B credentials exist, so logging never blocks on a login.
    ``${fast_precision:<accelerator>}`` is bf16 mixed precision where it is faster than fp32.
    ``${required:<message>}`` marks a value the user must give: reading it fails with the message.
    ``${run_name:}`` names a run after its command-line overrides; ``${run_group:}`` is one name shared by the
    jobs of a multirun (null for a single run)."""
    resolvers = (("wandb_offline", _wandb_offline), ("fast_precision", fast_precision), ("required", required),
                 ("run_name", _run_name), ("run_group", _run_group))
    for name, resolver in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


def fast_precision(accelerator: str = "cpu") -> str:
    """Lightning's precision for training on ``accelerator`` (the ``${fast_precision:<accelerator>}`` resolver):
    bf16 mixed precision where this machine measured it faster (:mod:`siammask.precision`); logs why once."""
    import torch

    from siammask.precision import choose_precision

    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    choice = choose_precision("training", "cuda" if on_gpu else accelerator if accelerator != "auto" else "cpu")
    message = f"precision {choice.lightning}: {choice.reason}"
    if message not in _LOGGED:
        _LOGGED.add(message)
        log.info(message)
    return choice.lightning


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
            _refuse_unread_additions(cfg)
            return task(cfg)
        except Exception as error:  # re-raised unless it is a user mistake
            _remove_run_folder_if_nothing_written()
            mistake = _user_mistake(error)
            if mistake is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            message = " ".join(str(mistake).split())  # one line, whatever the raiser's layout
            print(f"error: {message}", file=sys.stderr)
            raise SystemExit(1) from None

    return run


HYDRA_FILES = {"config.yaml", "hydra.yaml", "overrides.yaml"}  # what Hydra writes into <run folder>/.hydra


def _remove_run_folder_if_nothing_written() -> None:
    """A command that failed before writing anything leaves no run folder behind: one that holds only Hydra's own
    record (``.hydra/`` and the command's log, whose error was printed) is removed; anything else keeps it."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    folder = Path(hydra_cfg.runtime.output_dir)
    # only a run folder Hydra made (with its .hydra record): a command without one (hydra: plain) keeps the folder
    if (folder / ".hydra").is_dir() and holds_only_hydra_record(folder, hydra_cfg.job.name):
        shutil.rmtree(folder, ignore_errors=True)


def holds_only_hydra_record(folder: Path, job_name: str) -> bool:
    """``folder`` holds nothing but what Hydra writes when a run starts (``.hydra/`` and ``<job_name>.log``)."""
    entries = {p.name: p for p in folder.iterdir()}
    log_file, record = entries.pop(f"{job_name}.log", None), entries.pop(".hydra", None)
    return (not entries and (log_file is None or log_file.is_file())
            and (record is None or all(p.is_file() and p.name in HYDRA_FILES for p in record.iterdir())))


def _refuse_unread_additions(cfg: DictConfig) -> None:
    """The overrides of this Hydra command that add a key (``+key=value``) must add it where something reads it."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        refuse_unread_additions(cfg, hydra_cfg.overrides.task, hydra_cfg.runtime.choices.keys())


def refuse_unread_additions(cfg: DictConfig, overrides: Sequence[str], groups: Collection[str]) -> None:
    """Hydra answers a mistyped key (``max_frame=3``) with the hint to add it (``+max_frame=3``), and an added key
    nobody reads is silently ignored. A key added with ``+`` is accepted where it is read: in a node with a
    ``_target_`` (a constructor's argument, which the constructor checks: ``+trainer.limit_train_batches=2``) or
    in a collection of named entries, a node whose entries are all nodes (``+callbacks.probe._target_=...``,
    ``+data.datasets.mine={...}``). ``groups``: the config groups, whose ``+group=option`` adds a config."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if not override.is_add() or key in groups or "/" in key or override.package is not None:
            continue
        parent = key.rpartition(".")[0]
        if key.startswith("hydra.") or _reads_added_keys(OmegaConf.select(cfg, parent) if parent else cfg):
            continue
        raise ValueError(f"+{key}: no part of this command reads {key!r}, so it would be ignored; check the key's "
                         f"spelling and place (the configuration: add --cfg job to the command)")


def _reads_added_keys(node: Any) -> bool:
    if not isinstance(node, DictConfig):
        return False
    return "_target_" in node or all(isinstance(node._get_node(k), DictConfig) for k in node)


def _user_mistake(error: BaseException | None) -> BaseException | None:
    found = None
    while error is not None:
        if isinstance(error, USER_ERRORS):
            found = error
        error = error.__cause__
    return found


def project_root() -> str:
    """The folder ``paths.root_dir`` (``$PROJECT_ROOT``) puts ``logs/`` and ``data/`` in, found here only
    (:func:`siammask.command.command` exports it): the source checkout this package is installed from (an
    editable install: this file is the checkout's src/siammask/hydra_glue.py), else the current folder, so a
    package installed with a plain ``pip install .`` writes where the user runs it."""
    here = Path(__file__).resolve()
    checkout = here.parents[2]
    return str(checkout) if (checkout / "src" / "siammask" / here.name).resolve() == here else os.getcwd()


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


def is_multirun() -> bool:
    """This process runs a job of a Hydra multirun (``-m``: a sweep), not a single run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _run_group() -> str | None:
    from hydra.core.hydra_config import HydraConfig

    if not is_multirun():
        return None
    hydra_cfg = HydraConfig.get()
    return f"{hydra_cfg.job.name}-{Path(hydra_cfg.sweep.dir).name}"


def flatten(tree: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
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
    assert isinstance(config, dict)  # a DictConfig's container is a dict
    return {**flatten(config), "overrides": " ".join(overrides), **git_state(code_dir)}


# The keys of conf/runtime/default.yaml: how an entry point's tracker runs its network.
RUNTIME_KEYS = ("backend", "threads", "onnx_dir", "calibration", "fold_batchnorm", "channels_last", "precision")


def runtime_options(cfg: Mapping) -> dict:
    """The ``load_tracker`` keyword arguments an entry point's config gives (conf/runtime/default.yaml), with the
    ``calibration`` frames it names handed in (:func:`calibration_frames`)."""
    options = {key: cfg[key] for key in RUNTIME_KEYS if key in cfg}
    if "calibration" in options:
        options["calibration"] = calibration_frames(options["calibration"])
    return options


def calibration_frames(spec: str | None) -> Calibration | None:
    """The int8 calibration a config's ``calibration`` names: ``synthetic`` (the synthetic videos, chosen here by
    the entry point: the library does not import the data generator), a folder of the user's frames, or none."""
    from siammask.onnx.calibration import folder_calibration

    if spec is None or str(spec).strip() == "":
        return None
    if spec == "synthetic":
        from siammask.datamodules.synthetic import synthetic_calibration

        return synthetic_calibration()
    return folder_calibration(spec)
