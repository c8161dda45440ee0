"""Loggers that cannot start stop the run before training, with a message saying what to do."""

import pytest
from pytorch_lightning.loggers import CSVLogger, WandbLogger

from siammask.lit.loggers import LoggerStartError, start_loggers


def test_an_unwritable_wandb_folder_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(LoggerStartError, match="cannot write its run files into .*a_file/wandb"):
        start_loggers([CSVLogger(tmp_path), WandbLogger(save_dir=str(blocker / "wandb"), offline=True)])


def test_a_wandb_run_that_fails_to_start_names_the_cause_and_the_ways_out(tmp_path, monkeypatch):
    import wandb

    def refuse(**kwargs):
        raise wandb.errors.AuthenticationError("API key is invalid")

    monkeypatch.setattr(wandb, "init", refuse)
    with pytest.raises(LoggerStartError, match="API key is invalid.*WANDB_MODE=offline"):
        start_loggers([WandbLogger(save_dir=str(tmp_path), offline=False)])
