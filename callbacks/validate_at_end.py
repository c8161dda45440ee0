"""A step-budgeted run that ends inside an epoch still validates once at its end.

Lightning validates at epoch ends (``check_val_every_n_epoch``) or every so many steps (``val_check_interval``); a
run whose ``trainer.max_steps`` ends before the first such point (a short fine-tune on a store with long epochs)
would end without any validation although ``data.val_path`` is set. Asking the trainer to stop at the last step
makes Lightning run its validation there (as it does for an early stop); a run whose last step already validates
is unchanged. Lightning honours a stop only once ``min_epochs`` / ``min_steps`` are done, so these must be unset.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


class ValidateAtEnd(pl.Callback):
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.fit_loop.min_epochs or trainer.fit_loop.epoch_loop.min_steps:
            raise ValueError("callbacks.validate_at_end validates at the last step, which Lightning allows only "
                             "without a minimum: set trainer.min_epochs=null and trainer.min_steps=null")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if trainer.enable_validation and 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True
