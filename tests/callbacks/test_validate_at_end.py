"""A step-budgeted run ending inside an epoch validates once at its last step (callbacks/validate_at_end.py)."""

import pytest
import pytorch_lightning as pl
import torch
from siammask.callbacks.validate_at_end import ValidateAtEnd


class CountsValidation(pl.LightningModule):
    """A linear model on 8-batch epochs that records the step of every validation batch."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.validated_at: list[int] = []

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).square().mean()

    def validation_step(self, batch, batch_idx):
        self.validated_at.append(self.global_step)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=1)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(1, 2)), batch_size=1)


@pytest.mark.parametrize("max_steps, callbacks, expected", [
    (3, [], []),                     # Lightning alone: the epoch never ends, no validation
    (3, [ValidateAtEnd()], [3]),     # once, at the last step
    (8, [ValidateAtEnd()], [8]),     # the last step ends the epoch: its one validation, not two
    (10, [ValidateAtEnd()], [8, 10]),
])
def test_a_run_ending_inside_an_epoch_validates_at_its_last_step(tmp_path, max_steps, callbacks, expected):
    module = CountsValidation()
    pl.Trainer(max_steps=max_steps, callbacks=callbacks, logger=False, enable_checkpointing=False,
               enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
               default_root_dir=tmp_path).fit(module)
    assert module.validated_at == expected


def test_a_minimum_of_epochs_which_would_keep_it_from_validating_is_refused(tmp_path):
    trainer = pl.Trainer(max_steps=3, min_epochs=1, callbacks=[ValidateAtEnd()], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
    with pytest.raises(ValueError, match="set trainer.min_epochs=null"):
        trainer.fit(CountsValidation())

