"""Track objects through a video from boxes or masks on its first frame.

The clone's thin entry point: the code is siammask.cli.track, installed with the package as the console command
``siammask-track``; both take the same ``key=value`` overrides of conf/track.yaml (docs/commands.md).
"""

from siammask.cli.track import main

if __name__ == "__main__":
    main()
