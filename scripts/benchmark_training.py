"""Training throughput (pairs/s) of configured models on this machine: forward + backward + SGD step.

    python scripts/benchmark_training.py                       # the default and the paper model
    python scripts/benchmark_training.py --config "experiment=quick" --batch 16 --steps 8

The configured ``trainer.precision`` is applied (bf16 autocast for ``bf16-mixed``). Batches are fixed random
pairs at the configured search size with a target box and mask, so the figure is the model's own cost (data
loading excluded). Reports the median step time over ``--steps`` after one warm-up step, and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from model_fixtures import make_batch

from siammask.hydra_glue import register_resolvers

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
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", help="Hydra overrides of one extra configuration (repeatable)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    register_resolvers()
    configs = {c: c.split() for c in args.config} if args.config else CONFIGS
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} threads, batch {args.batch}, median of {args.steps} steps")
    print("| model | training pairs/s |\n|---|---|")
    results = {}
    for name, overrides in configs.items():
        results[name] = measure(overrides, args.batch, args.steps)
        print(f"| {name} | {results[name]:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
