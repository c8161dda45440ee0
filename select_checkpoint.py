"""Score every per-epoch checkpoint of a training run on a benchmark; name the best.

The clone's thin entry point: the code is siammask.cli.select_checkpoint, installed with the package as the console command
``siammask-select-checkpoint``; both take the same ``key=value`` overrides of conf/select_checkpoint.yaml (docs/commands.md).
"""

from siammask.cli.select_checkpoint import main

if __name__ == "__main__":
    main()
