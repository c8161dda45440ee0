"""Own videos annotated with boxes only (docs/custom_data.md): prepared, trained from scratch, fine-tuned and
evaluated, each command ending with exit 0; the mask metrics they cannot have are missing with a reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from command_line import run_command
from custom_videos import write_custom_videos
from siammask.datamodules.prepare import prepare, resolve_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # train.py, eval.py
import eval as eval_script
import train as train_script

# small crops and one step: the network is fully convolutional, what matters is that every command completes
SMALL = ["++trainer.max_steps=1", "data.batch_size=2", "data.min_steps_per_epoch=1", "model.search_size=127",
         "callbacks.progress_bar.refresh_rate=0", "trainer.log_every_n_steps=1"]


@pytest.mark.slow
def test_a_box_only_store_trains_fine_tunes_and_evaluates_with_exit_0(tmp_path):
    videos = write_custom_videos(tmp_path / "videos", videos=2, frames=4, masks=False)
    store = tmp_path / "store"
    prepare("custom", resolve_config("custom", {"root": str(videos), "out": str(store), "workers": 1}))
    trained, tuned = tmp_path / "trained", tmp_path / "tuned"
    assert run_command(train_script.main, "data=custom", f"data.path={store}", *SMALL, run_dir=trained) == 0
    assert json.loads((trained / "result.json").read_text())["value"] is None  # no masks, no train/mask_iou
    assert run_command(train_script.main, "experiment=finetune", f"model.init_from={trained / 'checkpoints' / 'last.ckpt'}",
                       f"data.path={store}", *SMALL, run_dir=tuned) == 0
    evaluated = tmp_path / "eval"
    assert run_command(eval_script.main, "benchmark=custom", f"benchmark.root={videos}", "progress=false",
                       f"ckpt_path={tuned / 'checkpoints' / 'last.ckpt'}", run_dir=evaluated) == 0
    metrics = json.loads((evaluated / "metrics.json").read_text())
    assert metrics["otb"]["sequences"] == metrics["vot"]["sequences"] == 4 and metrics["davis"]["sequences"] == 0
    assert "no annotated masks" in (evaluated / "metrics.md").read_text()
