"""select_checkpoint.py: every epoch checkpoint of a run tracked on a benchmark, the best one named (the release's
epoch selection), end to end in a subprocess on a tiny synthetic benchmark."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from model_fixtures import light_model_kwargs

from siammask.evaluation.selection import epoch_checkpoints, selection_metric
from siammask.lit import ThreeBranchModule

ROOT = Path(__file__).resolve().parents[2]
TINY = ["benchmark=synthetic", "benchmark.num_videos=1", "benchmark.num_frames=6", "benchmark.protocols=[vot]",
        "benchmark.generator.image_size=[96,80]", "benchmark.generator.num_targets=1", "progress=false"]


def write_checkpoint(path: Path, seed: int) -> None:
    """A checkpoint as train.py writes it (hyper-parameters + state dict), with its own random weights."""
    torch.manual_seed(seed)
    module = ThreeBranchModule(**light_model_kwargs())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}, path)


def test_select_checkpoint_scores_every_epoch_and_names_the_best(tmp_path):
    run = tmp_path / "run"
    for epoch, seed in ((0, 1), (1, 2)):
        write_checkpoint(run / "checkpoints" / f"epoch_{epoch:03d}.ckpt", seed)
    write_checkpoint(run / "checkpoints" / "last.ckpt", 3)  # not an epoch checkpoint: not scored
    out = tmp_path / "selection"
    result = subprocess.run([sys.executable, "select_checkpoint.py", f"run_dir={run}", *TINY, f"hydra.run.dir={out}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((out / "selection.json").read_text())
    assert doc["metric"] == "vot/eao" and [Path(r["checkpoint"]).name for r in doc["checkpoints"]] == [
        "epoch_000.ckpt", "epoch_001.ckpt"]
    scores = [r["score"] for r in doc["checkpoints"]]
    assert scores == [r["summary"]["vot"]["eao"] for r in doc["checkpoints"]]
    best = doc["checkpoints"][scores.index(max(scores))]
    assert doc["best"] == best["checkpoint"] and doc["best_score"] == max(scores)
    assert f"best: {best['checkpoint']}" in result.stdout
    assert "(best)" in (out / "selection.md").read_text()
    for row in doc["checkpoints"]:  # each checkpoint's result files, as eval.py writes them
        assert (out / "results" / Path(row["checkpoint"]).stem / "vot" / "video000_target1").is_dir()


def test_selection_needs_epoch_checkpoints_and_a_benchmark_with_ground_truth(tmp_path):
    with pytest.raises(FileNotFoundError, match="epoch_checkpoints.yaml"):
        epoch_checkpoints(tmp_path)
    with pytest.raises(ValueError, match="no protocol with ground truth"):
        selection_metric({"name": "ytb_vos", "protocols": ["ytvos"]})
    assert selection_metric({"name": "davis2017", "protocols": ["davis"]}) == ("davis", "JF_mean")
