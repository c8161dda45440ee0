"""Evaluate a tracker on a benchmark, or score saved results: metrics.json, metrics.md, plots.

The clone's thin entry point: the code is siammask.cli.eval, installed with the package as the console command
``siammask-eval``; both take the same ``key=value`` overrides of conf/eval.yaml (docs/commands.md).
"""

from siammask.cli.eval import main

if __name__ == "__main__":
    main()
