"""The default configuration under DDP: two CPU processes (gloo), spawned and launched as subprocesses."""

from pathlib import Path

import pytest
import torch
from test_train import FAST, run_train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("trainer", ["ddp_sim", "ddp_cpu"])
def test_default_configuration_trains_under_two_process_ddp_with_ema_and_refine(tmp_path: Path, trainer: str):
    run_train(f"trainer={trainer}", "++trainer.max_steps=2", "data.batch_size=2", "callbacks.ema.update_starting_at_step=0",
              f"hydra.run.dir={tmp_path}", *FAST[1:])
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 2
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 2  # the EMA crossed into the workers and updated
    assert any(key.startswith("network.refine.") for key in checkpoint["state_dict"])
