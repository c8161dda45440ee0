"""Run a Hydra entry point (``@hydra.main``) in this process, as its command line would."""

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from hydra.core.global_hydra import GlobalHydra


def run_command(main: Callable[[], object], *overrides: str, run_dir: Path) -> int:
    """The exit code of ``main`` given ``key=value`` overrides; its Hydra run folder is ``run_dir``. The logging
    set-up Hydra installs for the command is taken down again, so later tests see the process as before."""
    argv = ["command", *overrides, f"hydra.run.dir={run_dir}"]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with mock.patch.object(sys, "argv", argv):
            main()
    except SystemExit as exit_info:
        return int(exit_info.code or 0)
    finally:
        GlobalHydra.instance().clear()
        for handler in set(root.handlers) - set(handlers):
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    return 0
