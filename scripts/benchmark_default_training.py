"""Seconds per training step of the embedded default (`make train`) under several CPU instruction-set limits.

    python scripts/benchmark_default_training.py                     # native, no AMX, AVX2 (a laptop stand-in)
    python scripts/benchmark_default_training.py --short 20 --long 130

Each setting runs train.py twice in a fresh process (``experiment=quick``, the real synthetic data, the precision
the default picks on that CPU) for ``--short`` and ``--long`` steps (past the EMA's start at step 100); the difference of the two wall-clock times
divided by the difference of steps is the time per step without start-up. The full ``make train`` time is then
start-up + max_steps x that. oneDNN's ``ONEDNN_MAX_CPU_ISA`` and ATen's ``ATEN_CPU_CAPABILITY`` stand in for a CPU
without AMX (``AVX512_CORE_BF16``) and for a typical laptop (``AVX2``). Measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "native": {},
    "no AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16)": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "laptop stand-in (ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2)": {"ONEDNN_MAX_CPU_ISA": "AVX2",
                                                                            "ATEN_CPU_CAPABILITY": "avx2"},
}


def timed_run(steps: int, env: dict[str, str], overrides: list[str]) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        command = [sys.executable, "train.py", "experiment=quick", f"trainer.max_steps={steps}",
                   "callbacks.progress_bar.refresh_rate=0", f"hydra.run.dir={run_dir}", *overrides]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def default_max_steps() -> int:
    return int(OmegaConf.load(ROOT / "conf" / "experiment" / "quick.yaml").trainer.max_steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=130)
    parser.add_argument("--setting", action="append", choices=list(SETTINGS), help="default: all")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides")
    args = parser.parse_args()
    max_steps = default_max_steps()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"train.py experiment=quick, steps {args.short} and {args.long}; default max_steps {max_steps}")
    print("| setting | s / step | start-up s | make train estimate (min) |\n|---|---|---|---|")
    for name in args.setting or SETTINGS:
        short, long = timed_run(args.short, SETTINGS[name], args.overrides), timed_run(args.long, SETTINGS[name],
                                                                                      args.overrides)
        per_step = (long - short) / (args.long - args.short)
        start_up = short - args.short * per_step
        print(f"| {name} | {per_step:.3f} | {start_up:.0f} | {(start_up + max_steps * per_step) / 60:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
