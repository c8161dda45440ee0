"""Training throughput (pairs/s) of configured models on this machine: forward + backward + SGD step.

    python scripts/benchmark_training.py                       # the default and the paper model
    python scripts/benchmark_training.py "configs=['experiment=quick']" batch=16 steps=8   (conf/benchmark_training.yaml)

The configured ``trainer.precision`` is applied (bf16 autocast for ``bf16-mixed``). Batches are fixed random
pairs at the configured search size with a target box and mask, so the figure is the model's own cost (data
loading excluded). Reports the median step time over ``steps`` after one warm-up step, and the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from model_fixtures import make_batch

from siammask.command import command, compose_config

PAPER = ["experiment=quick", "model/backbone=paper_resnet50", "model.search_size=255", "model.neck.out_channels=256",
         "model.head.hidden_channels=256", "model.head.mask.hidden_channels=256", "model.mask_positions_per_pair=null",
         "trainer.precision=32-true"]
CONFIGS = {
    "default (experiment=quick: regnetx_002, narrow heads, refine at 2 RoWs/pair, bf16 where native)": [
        "experiment=quick"],
    "default in fp32": ["experiment=quick", "trainer.precision=32-true"],
    "paper (paper_resnet50, width 256, three-branch, fp32)": PAPER + ["model/refine=none"],
    "paper + refine (all trained, fp32)": PAPER,
}


def measure(overrides: list[str], batch_size: int, steps: int) -> float:
    cfg = compose_config("train", overrides)
    module = instantiate(cfg.model)
    module.log = lambda *args, **kwargs: None
    module.on_train_epoch_start()
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    batch = make_batch(batch_size, search_size=int(cfg.model.search_size))
    bf16 = str(cfg.trainer.precision).startswith("bf16")
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # as Lightning's bf16-mixed on CPU
            loss = module.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch_size / statistics.median(times[1:])


@command("benchmark_training")
def main(cfg: DictConfig) -> None:
    threads = int(cfg.threads or os.cpu_count() or 1)
    batch, steps = int(cfg.batch), int(cfg.steps)
    torch.set_num_threads(threads)
    configs = {c: c.split() for c in cfg.configs} if cfg.configs else CONFIGS
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{threads} threads, batch {batch}, median of {steps} steps")
    print("| model | training pairs/s |\n|---|---|")
    results = {}
    for name, overrides in configs.items():
        results[name] = measure(overrides, batch, steps)
        print(f"| {name} | {results[name]:.1f} |", flush=True)
    if cfg.json:
        Path(cfg.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
