"""The console commands of an installed package (not a clone): a plain, non-editable install of this source, run
from an empty folder, tracks and evaluates with its config read from the package and writes under that folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_fixtures import light_model_kwargs

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "src", "conf", "datamodules", "callbacks")  # what pyproject.toml packages


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """This source installed with pip into a folder of its own (``--target``: a regular install, no link back to
    the clone; the dependencies come from the test's environment). Built from a copy, so pip's build files stay
    out of the clone."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__", "*.egg-info")}
                                            if (ROOT / name).is_dir() else {}))
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    return target


def run_installed(target: Path, command: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PROJECT_ROOT", "PYTHONPATH")}
    return subprocess.run([str(target / "bin" / command), *overrides], cwd=cwd, capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(target)}, check=False, timeout=600)


@pytest.mark.slow
def test_console_commands_of_a_plain_install_track_and_evaluate_into_the_current_folder(installed, tmp_path,
                                                                                      tennis_dir):
    from siammask.lit import ThreeBranchModule

    ckpt = tmp_path / "tiny.ckpt"  # a narrow random network in the project's checkpoint layout
    module = ThreeBranchModule(**light_model_kwargs())
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, ckpt)
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run([sys.executable, "-c", "import siammask; print(siammask.__file__)"], cwd=work, text=True,
                           capture_output=True, check=True, env={**os.environ, "PYTHONPATH": str(installed)})
    assert where.stdout.strip() == str(installed / "siammask" / "__init__.py")  # the installed copy, not the clone

    track = run_installed(installed, "siammask-track", f"input={tennis_dir}", "bbox=[305,112,163,253]",
                          f"ckpt_path={ckpt}", "max_frames=3", "overlay=false", "progress=false", cwd=work)
    assert track.returncode == 0, track.stderr
    (results,) = (work / "logs" / "track" / "runs").glob("*/results.json")
    assert [record["frame"] for record in json.loads(results.read_text())] == [0, 1, 2]
    assert (results.parent / "timing.json").is_file()

    evaluate = run_installed(installed, "siammask-eval", f"ckpt_path={ckpt}", "benchmark.num_videos=2",
                             "benchmark.num_frames=12", "progress=false", cwd=work)
    assert evaluate.returncode == 0, evaluate.stderr
    (metrics,) = (work / "logs" / "eval" / "runs").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["davis"]["sequences"] == 2
    assert sorted(p.name for p in work.iterdir()) == ["logs"]  # nothing written elsewhere in the folder

    mistake = run_installed(installed, "siammask-track", "input=nowhere", "bbox=[1,2,3,4]", cwd=work)
    assert mistake.returncode == 1 and mistake.stderr.strip().splitlines()[-1].startswith("error: input")
