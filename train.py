"""Train SiamMask (the recipe in conf/train.yaml and its experiment files).

The clone's thin entry point: the code is siammask.cli.train, installed with the package as the console command
``siammask-train``; both take the same ``key=value`` overrides of conf/train.yaml (docs/commands.md).
"""

from siammask.cli.train import main

if __name__ == "__main__":
    main()
