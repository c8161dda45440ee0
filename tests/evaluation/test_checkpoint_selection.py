"""select_checkpoint.py: every epoch checkpoint of a run tracked on a benchmark, the best one named (the release's
epoch selection), end to end in a subprocess on a tiny synthetic benchmark."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from model_fixtures import light_model_kwargs
from omegaconf import OmegaConf

from siammask.evaluation.selection import epoch_checkpoints, recorded_selection_tracker, selection_metric
from siammask.lit import ThreeBranchModule

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # select_checkpoint.py, the entry point
from select_checkpoint import with_run_tracker

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


def compose_config(name: str, overrides: list[str]):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose(name, overrides=overrides)


@pytest.mark.parametrize(("experiment", "preset"), [("siammask_base", "release_default"), ("siammask_sharp", "vot18"),
                                                    ("quick", None)])
def test_each_paper_stage_records_the_preset_the_release_selects_its_epochs_with(experiment, preset):
    assert compose_config("train", [f"experiment={experiment}"]).selection_tracker == preset


def test_release_default_preset_is_the_release_tracker_config_defaults_with_the_mask_head():
    # foolwood/SiamMask utils/tracker_config.py TrackerConfig; experiments/siammask_base/test.sh: --mask, no --refine
    tracker = compose_config("select_checkpoint", ["tracker=release_default", "run_dir=x"]).tracker
    assert (tracker.penalty_k, tracker.window_influence, tracker.lr, tracker.seg_thr) == (0.09, 0.39, 0.38, 0.30)
    assert (tracker.refine, tracker.mask_enabled, tracker.geometry) == (False, True, "release")


def test_recorded_preset_is_read_from_the_run_or_its_checkpoints_folder(tmp_path):
    assert recorded_selection_tracker(tmp_path) is None  # a bare folder of checkpoints
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("selection_tracker: vot18\n")
    assert recorded_selection_tracker(tmp_path) == recorded_selection_tracker(tmp_path / "checkpoints") == "vot18"


def test_a_tracker_chosen_on_the_command_line_wins_over_the_recorded_one(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("selection_tracker: vot18\n")
    cfg = compose_config("select_checkpoint", [f"run_dir={tmp_path}", "tracker=davis"])
    cfg = with_run_tracker(cfg, [f"run_dir={tmp_path}", "tracker=davis"])
    assert cfg.tracker_preset == "davis" and cfg.tracker.lr == 1.0


def test_select_checkpoint_scores_with_the_preset_the_run_records(tmp_path):
    run = tmp_path / "run"
    write_checkpoint(run / "checkpoints" / "epoch_000.ckpt", 1)
    (run / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create({"selection_tracker": "vot18"}), run / ".hydra" / "config.yaml")
    out = tmp_path / "selection"
    result = subprocess.run([sys.executable, "select_checkpoint.py", f"run_dir={run}", *TINY, "tracker.seg_thr=0.2",
                             f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((out / "selection.json").read_text())
    assert doc["tracker_preset"] == "vot18" and "tracker preset: vot18 (the run's selection_tracker)" in result.stdout
    # config_vot18.json's hp, with the command line's field override on top
    assert (doc["tracker"]["penalty_k"], doc["tracker"]["lr"], doc["tracker"]["seg_thr"]) == (0.10, 0.32, 0.2)
