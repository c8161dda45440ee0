"""Plot a run's training curves (loss per branch, box / mask IoU) from its CSV log into a PNG.

    python scripts/plot_training.py run_dir=logs/train/runs/<run>   (conf/plot_training.yaml; out=<run>/training_curve.png)
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from omegaconf import DictConfig

from siammask.command import command

log = logging.getLogger(__name__)


def load_metrics(run_dir: Path) -> pd.DataFrame:
    files = sorted(run_dir.glob("csv/**/metrics.csv"))
    if not files:
        raise FileNotFoundError(f"no csv/**/metrics.csv under {run_dir} (was the run logged with logger=csv?)")
    return pd.read_csv(files[-1])


def plot(metrics: pd.DataFrame, out: Path, smooth: int = 10) -> None:
    fig, (loss_ax, iou_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name in [c for c in metrics.columns if c.startswith("train/loss")]:
        series = metrics[["step", name]].dropna()
        loss_ax.plot(series["step"], series[name].rolling(smooth, min_periods=1).mean(), label=name.split("/")[1])
    loss_ax.set(xlabel="step", ylabel="loss (running mean)", yscale="log", title="training losses")
    loss_ax.legend()
    for name in ("train/box_iou", "train/mask_iou"):
        if name in metrics:
            series = metrics[["step", name]].dropna()
            iou_ax.plot(series["step"], series[name].rolling(smooth, min_periods=1).mean(), label=name.split("/")[1])
    iou_ax.set(xlabel="step", ylabel="IoU on the batch (running mean)", ylim=(0, 1), title="chosen box / mask IoU")
    iou_ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


@command("plot_training")
def main(cfg: DictConfig) -> None:
    out = Path(cfg.out)
    plot(load_metrics(Path(cfg.run_dir)), out, int(cfg.smooth))
    log.info("wrote %s", out)


if __name__ == "__main__":
    main()
