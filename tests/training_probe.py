"""A callback train.py runs under test (``+callbacks.probe``): what mixed precision and clipping really did."""

import json
from pathlib import Path

import pytorch_lightning as pl
import torch


def gradient_norm(module: torch.nn.Module) -> float:
    norms = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


class TrainingProbe(pl.Callback):
    """Writes ``out`` (JSON) at the end of training: the trainer's precision, the dtype of every score map the
    network computed, and the gradient norm of every optimiser step before clipping and once the step is done
    (gradients stay until the next step zeroes them, so the second is the clipped one the optimiser used)."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.record: dict = {"precision": None, "score_dtypes": [], "before_clipping": [], "after_step": []}
        self._stepped = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record["precision"] = str(trainer.precision)
        pl_module.network.register_forward_hook(
            lambda module, inputs, output: self.record["score_dtypes"].append(str(output.score.dtype)))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        self.record["before_clipping"].append(gradient_norm(pl_module))
        self._stepped = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args) -> None:
        if self._stepped:
            self.record["after_step"].append(gradient_norm(pl_module))
            self._stepped = False

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out.write_text(json.dumps(self.record))
