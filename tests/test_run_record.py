"""The record every logger receives (siammask.hydra_glue): run names, flattened configuration, git state."""

import subprocess

from omegaconf import OmegaConf

from siammask.hydra_glue import flatten, git_state, run_name, run_record


def test_run_names_are_the_overrides_with_short_keys_and_without_output_paths():
    overrides = ["model/backbone=resnet18", "model.optimizer.lr=0.01", "++trainer.max_steps=4", "~callbacks.ema", "logger=wandb",
                 "hydra.run.dir=/tmp/x", "paths.output_dir=/tmp/y"]
    assert run_name(overrides, "train") == "backbone=resnet18,lr=0.01,max_steps=4,~ema"
    assert run_name(["hydra/launcher=submitit_local"], "train") == "train"


def test_flatten_joins_nested_keys_with_slashes_and_keeps_leaves():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}, "f": None}) == {"a/b": 1, "a/c/d": [1, 2], "e": {},
                                                                            "f": None}


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_state(tmp_path) == {"git/commit": head, "git/dirty": False}
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path)["git/dirty"] is True
    assert git_state(tmp_path.parent / "no_such_folder") == {"git/commit": "unknown", "git/dirty": None}


def test_run_record_holds_the_resolved_configuration_and_the_overrides(tmp_path):
    cfg = OmegaConf.create({"model": {"lr": 0.01, "name": "${model.lr}"}, "seed": 1})
    record = run_record(cfg, ["model.lr=0.01"], tmp_path)
    assert record["model/lr"] == 0.01 and record["model/name"] == 0.01 and record["seed"] == 1
    assert record["overrides"] == "model.lr=0.01" and "git/commit" in record
