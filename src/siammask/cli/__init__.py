"""The code of the user-facing commands (each a :func:`siammask.command.command`): train.py, eval.py, track.py
and select_checkpoint.py in a clone call these, and so do the console scripts ``siammask-train``,
``siammask-eval``, ``siammask-track`` and ``siammask-select-checkpoint`` of an installed package."""
