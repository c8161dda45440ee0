"""One way to run a command: every entry point is a siammask.command.Command over a packaged config, the console
scripts of pyproject.toml among them, and every command line of docs/commands.md composes with its config."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import shlex
import sys
import types
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from test_readme import bash_lines

from siammask.command import Command, check_writable, command_line
from siammask.hydra_glue import project_root, register_resolvers

ROOT = Path(__file__).resolve().parents[1]
# [project.scripts] of pyproject.toml (name = "module:function" lines; tomllib is not in Python 3.10)
CONSOLE_SCRIPTS = dict(re.findall(r'^([\w-]+) = "([\w.]+:\w+)"$', (ROOT / "pyproject.toml").read_text().split(
    "[project.scripts]")[1].split("\n[")[0], flags=re.MULTILINE))
ENTRY_FILES = sorted([*ROOT.glob("*.py"), *(ROOT / "scripts").glob("*.py")])


def load_command(word: str, module: str | None = None) -> Command:
    """The command a docs line starts: a console script, ``python -m <module>``, a top-level or scripts/ file."""
    if word in CONSOLE_SCRIPTS:
        module_name, _, attribute = CONSOLE_SCRIPTS[word].partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    if module is not None:
        return importlib.import_module(module).main
    if word.startswith("scripts/"):
        spec = importlib.util.spec_from_file_location(Path(word).stem, ROOT / word)
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        return script.main
    return importlib.import_module(f"siammask.cli.{word.removesuffix('.py')}").main


def docs_commands() -> list[tuple[Command, list[str]]]:
    commands = []
    for line in bash_lines((ROOT / "docs" / "commands.md").read_text()):
        words = shlex.split(re.sub(r"<[^<>]+>", "placeholder", line).replace("x,y,w,h", "1,2,3,4"))
        if words[0].endswith("python") and words[1] == "-m":
            commands.append((words[2], words[2], words[3:]))
        elif words[0].endswith("python"):
            commands.append((words[1], None, words[2:]))
        else:
            commands.append((words[0], None, words[1:]))
    return commands


@pytest.mark.parametrize("name", sorted(CONSOLE_SCRIPTS))
def test_each_console_script_is_a_command_whose_config_composes(name):
    main = load_command(name)
    assert isinstance(main, Command)
    register_resolvers()
    with initialize_config_module("siammask.conf", version_base="1.3"):
        assert compose(main.config_name).task_name == main.config_name


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_script_runs_through_the_command_helper_and_nothing_else(path):
    source = path.read_text()
    decorators = {ast.unparse(d) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
                  for d in node.decorator_list}
    assert "argparse" not in source and "hydra.main" not in source and "initialize_config_dir" not in source
    assert any(d.startswith("command(") for d in decorators) or "from siammask.cli." in source


def test_the_commands_doc_names_every_console_script_and_its_lines_compose():
    text = (ROOT / "docs" / "commands.md").read_text()
    assert all(f"`{name}`" in text for name in CONSOLE_SCRIPTS)
    lines = docs_commands()
    assert len(lines) >= 6
    register_resolvers()
    for word, module, overrides in lines:
        main = load_command(word, module)
        with initialize_config_module("siammask.conf", version_base="1.3"):
            cfg = compose(main.config_name, overrides=overrides)
        assert cfg.task_name, (word, overrides)


def test_the_project_root_of_an_editable_install_is_its_checkout():
    assert project_root() == str(ROOT)


def test_a_resume_line_repeats_the_command_as_it_was_typed(monkeypatch):
    script = types.ModuleType("__main__")  # `python train.py`: a file run as __main__, no module spec
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    monkeypatch.setattr(sys, "argv", ["train.py", "a=1"])
    assert command_line(["a=1", "ckpt_path=x y"]) == "python train.py a=1 'ckpt_path=x y'"
    module = types.ModuleType("__main__")  # `python -m siammask.vot`: argv[0] is the file, the spec names it
    module.__spec__ = importlib.util.find_spec("siammask.vot")
    monkeypatch.setitem(sys.modules, "__main__", module)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "src" / "siammask" / "vot.py"), "a=1"])
    assert command_line(["a=1"]) == "python -m siammask.vot a=1"
    monkeypatch.setattr(sys, "argv", ["/venv/bin/siammask-train", "a=1"])
    assert command_line(["a=1"]) == "siammask-train a=1"


def test_an_output_folder_that_cannot_be_written_is_named_with_the_key_that_moves_it(tmp_path):
    assert check_writable(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(ValueError, match=r"output_dir='/proc/x' is not writable .*output_dir=<dir>"):
        check_writable("/proc/x")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"results_dir='.*file/run' cannot be created: '.*file' is a file"):
        check_writable(tmp_path / "file" / "run", "results_dir")
