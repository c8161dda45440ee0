"""The VOT toolkit's view of our tracker: a TraX client (vot-trax, what the toolkit uses) drives
``python -m siammask.vot`` through a session on synthetic frames."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from command_line import run_command
from model_fixtures import light_model_kwargs

trax = pytest.importorskip("trax")
from trax.client import Client
from trax.image import FileImage
from trax.region import Mask, Polygon, Rectangle, Region

H, W = 120, 160


def save_tiny_checkpoint(path: Path) -> None:
    """A random-init narrow network in the project's checkpoint layout (hyper-parameters + weights)."""
    from siammask.lit import ThreeBranchModule

    torch.manual_seed(0)
    module = ThreeBranchModule(**light_model_kwargs())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, path)


def synthetic_frames(folder: Path, count: int = 4) -> list[Path]:
    """A bright 30x20 rectangle moving right by 3 px a frame on a dark, textured background."""
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        image = rng.integers(0, 50, (H, W, 3), dtype=np.uint8)
        image[40:60, 50 + 3 * index:80 + 3 * index] = (230, 200, 40)
        paths.append(folder / f"{index:08d}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def start_tracker(*overrides: str) -> tuple[subprocess.Popen, Client, list[str]]:
    """As the toolkit does: the tracker on pipes, its stderr on the same pipe as the protocol; what is not
    protocol goes to the returned log."""
    process = subprocess.Popen([sys.executable, "-m", "siammask.vot", *overrides],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "TRAX": "1"})
    log: list[str] = []
    return process, Client(stream=(process.stdin.fileno(), process.stdout.fileno()), timeout=60,
                           log=log.append), log


@pytest.mark.slow
def test_a_trax_session_answers_rectangle_polygon_and_mask_objects_each_in_its_own_form(tmp_path):
    # the newest `make train` run's checkpoint, found and announced on stderr, which shares the protocol's pipe
    run = tmp_path / "runs" / "2024-01-01_00-00-00"
    save_tiny_checkpoint(run / "checkpoints" / "last.ckpt")
    (run / ".hydra").mkdir()
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    frames = synthetic_frames(tmp_path)
    process, client, _ = start_tracker(f"ckpt_runs_dir={tmp_path / 'runs'}", "tracker=vot")
    try:
        assert client.tracker_name == "SiamMask"
        assert set(client.region_formats) >= {Region.RECTANGLE, Region.POLYGON, Region.MASK}
        mask = np.zeros((H, W), dtype=np.uint8)
        mask[40:60, 50:80] = 1
        corners = [(50.0, 40.0), (80.0, 40.0), (80.0, 60.0), (50.0, 60.0)]
        objects = [(Rectangle.create(50, 40, 30, 20), {}), (Polygon.create(corners), {}),
                   (Mask.create(mask[40:60, 50:80].copy(), 50, 40), {})]
        first, _ = client.initialize({"color": FileImage.create(str(frames[0]))}, objects, {})
        assert [region.type for region, _ in first] == [Region.RECTANGLE, Region.POLYGON, Region.MASK]
        assert first[0][0].bounds() == pytest.approx((50, 40, 30, 20))  # frame 0: the given regions
        assert first[2][0].offset() == (50, 40) and first[2][0].size() == (30, 20)
        for path in frames[1:]:
            answer, _ = client.frame({"color": FileImage.create(str(path))}, {}, [])
            (rect, rect_props), (polygon, _), (region, _) = answer
            assert (rect.type, polygon.type, region.type) == (Region.RECTANGLE, Region.POLYGON, Region.MASK)
            x, y, w, h = rect.bounds()
            assert np.isfinite([x, y, w, h]).all() and w > 0 and h > 0
            assert 0.0 <= float(rect_props["confidence"]) <= 1.0
            assert polygon.size() == 4 and np.isfinite(np.array(list(polygon))).all()
            full = region.array(normalize=True)
            assert full.shape[0] <= H and full.shape[1] <= W and set(np.unique(full)) <= {0, 1}
        client.quit()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_missing_checkpoint_ends_the_tracker_with_one_line(tmp_path, capsys, monkeypatch):
    from siammask.vot import main

    monkeypatch.setenv("TRAX", "1")
    assert run_command(main, f"ckpt_path={tmp_path / 'none.ckpt'}", run_dir=tmp_path) == 1
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""  # stdout is the protocol's
    assert captured.err.startswith("error: checkpoint") and "none.ckpt" in captured.err
    assert list(tmp_path.iterdir()) == []  # no run folder, no log file


def test_a_wrong_option_ends_the_tracker_without_a_traceback(tmp_path, capsys):
    from siammask.vot import main

    assert run_command(main, "no_such_option=1", run_dir=tmp_path) == 1
    err = capsys.readouterr().err
    assert "no_such_option" in err and "Traceback" not in err


def test_help_describes_the_tracker_process_and_its_options(tmp_path, capsys):
    from siammask.vot import main

    assert run_command(main, "--help", run_dir=tmp_path) == 0
    out = capsys.readouterr().out
    assert out.startswith("siammask-vot (python -m siammask.vot)") and "protocol = trax" in out
    assert "ckpt_path: null" in out and "tracker:" in out  # the options with their defaults


class Terminal(io.StringIO):
    """stdin as a person at a terminal gives it."""

    def isatty(self) -> bool:
        return True


def test_run_by_hand_says_in_one_line_what_starts_it_before_loading_a_network(tmp_path, capsys, monkeypatch):
    """A terminal on stdin and no TRAX variable: one line naming the toolkit and track.py, no model loaded."""
    from siammask.vot import main

    for name in ("TRAX", "TRAX_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert run_command(main, f"ckpt_path={tmp_path / 'none.ckpt'}", run_dir=tmp_path) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("error: no TraX client: siammask.vot is the tracker process the VOT toolkit")
    assert "none.ckpt" not in captured.err  # refused before the checkpoint is looked at


def test_a_session_without_a_client_fails_once_with_one_line(tmp_path):
    """stdin closed (not a terminal, no client): the TraX session fails; one line, not trax's traceback twice."""
    tiny = tmp_path / "tiny.ckpt"
    save_tiny_checkpoint(tiny)
    process = subprocess.run([sys.executable, "-m", "siammask.vot", f"ckpt_path={tiny}"], stdin=subprocess.DEVNULL,
                             check=False, capture_output=True, text=True, timeout=600,
                             env={k: v for k, v in os.environ.items() if not k.startswith("TRAX")})
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines()[-1].startswith("error: the TraX session failed")
    assert len([line for line in process.stderr.splitlines() if line.startswith("error:")]) == 1
