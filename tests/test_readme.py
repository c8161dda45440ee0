"""README.md's and docs/*.md's commands run as written: every command line of their bash blocks uses the project's
venv, make or a console command, and every command (train.py, eval.py, track.py, the data commands, the scripts,
the ``siammask-*`` console commands) composes with Hydra (``--cfg job`` without a process each).

Rule for placeholders: ``<...>`` (e.g. ``<run>``, ``<base.ckpt>``) and ``x,y,w,h`` stand for values the user
fills in; they are replaced by a dummy value, since composing checks keys and groups, not files; a placeholder
for a config group's choice (``tracker=<tuned preset>``) composes with one of the group's shipped files.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from siammask.hydra_glue import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAIN_CONFIGS = {"train.py": "train", "eval.py": "eval", "track.py": "track", "select_checkpoint.py": "select_checkpoint"}
OTHER_CONFIGS = {  # the other commands, by script or module (python -m)
    "siammask.datamodules.prepare": "prepare", "siammask.datamodules.check_store": "check_store",
    "siammask.datamodules.from_tracks": "from_tracks", "siammask.datamodules.visualize": "visualize",
    "siammask.sweeps": "sweep_summary", "siammask.export": "export", "siammask.vot": "vot",
    "scripts/make_tennis_example.py": "tennis_example",
    **{f"scripts/{name}.py": name for name in (  # scripts whose config has the script's name
        "convert_release", "plot_training", "benchmark_data", "benchmark_default_training", "benchmark_lmdb",
        "benchmark_tracking", "benchmark_training", "compare_backends", "compare_with_release", "overlay_stills",
        "follow_real_footage",
        "compare_families")}}
ENTRY_CONFIGS = {**MAIN_CONFIGS, **OTHER_CONFIGS}
WHAT_IT_RUNS = {"train.py": "model", "eval.py": "benchmark", "track.py": "tracker", "select_checkpoint.py": "benchmark"}  # a group each config composes
MAKE_TARGETS = {"train": "train.py", "eval": "eval.py", "track": "track.py"}
CONSOLE_COMMANDS = {"siammask-train": "train.py", "siammask-eval": "eval.py", "siammask-track": "track.py",
                    "siammask-select-checkpoint": "select_checkpoint.py", "siammask-prepare": "siammask.datamodules.prepare"}


def bash_lines(text: str) -> list[str]:
    """Command lines of the ```bash blocks, comments stripped, backslash continuations joined."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = line.split("  #")[0].split(" # ")[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def hydra_commands(text: str) -> list[tuple[str, list[str]]]:
    """(script, overrides) of each train.py / eval.py / track.py command, with placeholders filled in."""
    commands = []
    for line in bash_lines(text):
        filled = re.sub(r"<[^<>]+>", "placeholder", line).replace("x,y,w,h", "1,2,3,4")
        words = shlex.split(filled)
        if words[0] in CONSOLE_COMMANDS:
            commands.append((CONSOLE_COMMANDS[words[0]], [_shipped_choice(word) for word in words[1:]]))
        elif words[0] == "make" and len(words) > 1 and words[1] in MAKE_TARGETS:
            args = [w.removeprefix("ARGS=") for w in words[2:]]
            commands.append((MAKE_TARGETS[words[1]], shlex.split(" ".join(args))))
        elif len(words) > 1 and words[1] in ENTRY_CONFIGS:
            commands.append((words[1], [_shipped_choice(word) for word in words[2:]]))
        elif len(words) > 2 and words[1] == "-m" and words[2] in ENTRY_CONFIGS:
            commands.append((words[2], [_shipped_choice(word) for word in words[3:]]))
    return commands


PLACEHOLDER_CHOICES = {"tracker": "vot"}  # a user's own preset file stands in for one the project ships


def _shipped_choice(override: str) -> str:
    key, _, value = override.partition("=")
    return f"{key}={PLACEHOLDER_CHOICES[key]}" if value == "placeholder" and key in PLACEHOLDER_CHOICES else override


def single_run(overrides: list[str]) -> list[str]:
    """A sweep (``-m a=1,2``) composes as its first run; a group swept over ``glob(*)`` as its default."""
    if "-m" not in overrides:
        return overrides
    return [o if "=" not in o or "[" in o else o.split("=")[0] + "=" + o.split("=", 1)[1].split(",")[0]
            for o in overrides if o != "-m" and "=glob(" not in o]


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda path: path.name)
def test_every_python_command_uses_the_venv_or_make(doc):
    bare = [line for line in bash_lines(doc.read_text())
            if re.match(r"(python3?|pip3?|pytest|\S+\.py)\b", line)]
    assert bare == []


def test_the_readme_holds_the_commands_this_test_checks():
    scripts = {script for script, _ in hydra_commands(README.read_text())}
    assert set(MAIN_CONFIGS) <= scripts and len(scripts - set(MAIN_CONFIGS)) >= 6
    assert len(hydra_commands(README.read_text())) >= 35


DOC_COMMANDS = [(doc.name, script, overrides) for doc in [README, *DOCS] for script, overrides in
                hydra_commands(doc.read_text())]


@pytest.mark.parametrize("doc, script, overrides", DOC_COMMANDS,
                         ids=lambda value: value if isinstance(value, str) else " ".join(value)[:60])
def test_documented_command_composes(doc, script, overrides):
    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(ENTRY_CONFIGS[script], overrides=single_run(overrides))
    assert WHAT_IT_RUNS.get(script, "task_name") in cfg
