"""The one way a user-facing command runs: a Hydra entry point made by :func:`command`.

Every command (train.py, eval.py, track.py, select_checkpoint.py, the console scripts ``siammask-*``, the
``python -m siammask...`` modules and scripts/*.py) is ``@command("<config>")`` over a function of the composed
config, so all of them

- read their config from the installed package (``pkg://siammask.conf``), which works in a clone and after a
  plain ``pip install .`` alike;
- agree on the project root (``$PROJECT_ROOT`` for ``conf/paths``: ``logs/``, ``data/``), found once by
  :func:`siammask.hydra_glue.project_root`: the checkout of an editable install, else the current folder;
- end a user mistake with one line on stderr and exit code 1 (:func:`siammask.hydra_glue.user_errors`);
- take ``key=value`` overrides, ``--help``, ``--cfg job``, ``-m`` as every Hydra application does.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import hydra
from omegaconf import DictConfig

from siammask.hydra_glue import project_root, register_resolvers, user_errors

CONFIG_PATH = "pkg://siammask.conf"  # the packaged conf/ (pyproject.toml maps it to siammask.conf)
VERSION_BASE = "1.3"
Result = TypeVar("Result")


class Command(Generic[Result]):
    """A user-facing command: ``main()`` composes ``conf/<config_name>.yaml`` with the command line and runs the
    task; ``main(cfg)`` runs the task on a config composed elsewhere (Hydra's pass-through, for tests).
    ``config_name`` says which config a command reads (docs and their tests find it here)."""

    def __init__(self, task: Callable[[DictConfig], Result], config_name: str) -> None:
        functools.update_wrapper(self, task)
        self.config_name = config_name
        self._hydra_main = hydra.main(version_base=VERSION_BASE, config_path=CONFIG_PATH,
                                      config_name=config_name)(user_errors(task))

    def __call__(self, cfg: DictConfig | None = None) -> Result | None:
        os.environ.setdefault("PROJECT_ROOT", project_root())
        register_resolvers()
        return self._hydra_main(cfg)


def command(config_name: str) -> Callable[[Callable[[DictConfig], Result]], Command[Result]]:
    """``@command("train")`` over ``task(cfg)`` makes the command ``main`` of ``conf/train.yaml``."""

    def decorate(task: Callable[[DictConfig], Result]) -> Command[Result]:
        return Command(task, config_name)

    return decorate


def command_line(overrides: Sequence[str]) -> str:
    """The running command with other overrides, as the user would type it again: ``python train.py ...`` for a
    script, ``siammask-train ...`` for a console script, ``python -m siammask.vot ...`` for a module."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    if program.endswith(".py"):
        main_module = sys.modules.get("__main__")
        spec = getattr(main_module, "__spec__", None)
        start = ["python", "-m", spec.name] if spec is not None and spec.name else ["python", program]
    else:
        start = [Path(program).name]
    return shlex.join([*start, *overrides])


def check_writable(folder: str | Path, key: str = "output_dir") -> Path:
    """Refuse an output folder the command could not write before any work starts (a model loaded, frames
    tracked), naming the folder and the config key that moves it. The folder is not created here: the nearest
    existing parent is tried with a temporary file, which is what writing into it will need."""
    folder = Path(folder).expanduser()
    parent = next(p for p in (folder, *folder.parents) if p.exists())
    if not parent.is_dir():
        raise NotADirectoryError(f"{key}={str(folder)!r} cannot be created: {str(parent)!r} is a file")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise ValueError(f"{key}={str(folder)!r} is not writable ({error.strerror or error}): choose another "
                         f"folder with {key}=<dir>") from error
    return folder


def compose_config(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """A config of the package composed from Python, e.g. the models a benchmark compares: inside a command by its
    own Hydra, elsewhere (tests, notebooks) by a Hydra initialised for this call and released after it."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        return compose(config_name, overrides=list(overrides))
    with initialize_config_module(CONFIG_PATH.removeprefix("pkg://"), version_base=VERSION_BASE):
        return compose(config_name, overrides=list(overrides))
