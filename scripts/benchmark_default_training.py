"""Seconds per training step of the embedded default (`make train`) under several CPU instruction-set limits.

    python scripts/benchmark_default_training.py                     # native, no AMX, AVX2 (a laptop stand-in)
    python scripts/benchmark_default_training.py short=20 long=130 settings=[native]   (conf/benchmark_default_training.yaml)

Each setting runs train.py twice in a fresh process (``experiment=quick``, the real synthetic data, the precision
the default picks on that CPU) for ``short`` and ``long`` steps (past the EMA's start at step 100); the difference of the two wall-clock times
divided by the difference of steps is the time per step without start-up. The full ``make train`` time is then
start-up + max_steps x that. oneDNN's ``ONEDNN_MAX_CPU_ISA`` and ATen's ``ATEN_CPU_CAPABILITY`` stand in for a CPU
without AMX (``AVX512_CORE_BF16``) and for a typical laptop (``AVX2``). Measure on a quiet machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig

from siammask.command import command, compose_config

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name: (what the table says, environment)
    "native": ("native", {}),
    "no_amx": ("no AMX (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16)", {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}),
    "laptop": ("laptop stand-in (ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2)",
               {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}),
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
    return int(compose_config("train").trainer.max_steps)  # train.py's default: experiment=quick


@command("benchmark_default_training")
def main(cfg: DictConfig) -> None:
    short_steps, long_steps, overrides = int(cfg.short), int(cfg.long), list(cfg.overrides)
    unknown = sorted(set(cfg.settings or ()) - set(SETTINGS))
    if unknown:
        raise ValueError(f"settings {unknown}: choose among {', '.join(SETTINGS)}")
    max_steps = default_max_steps()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"train.py experiment=quick, steps {short_steps} and {long_steps}; default max_steps {max_steps}")
    print("| setting | s / step | start-up s | make train estimate (min) |\n|---|---|---|---|")
    for key in cfg.settings or SETTINGS:
        name, env = SETTINGS[key]
        short, long = timed_run(short_steps, env, overrides), timed_run(long_steps, env, overrides)
        per_step = (long - short) / (long_steps - short_steps)
        start_up = short - short_steps * per_step
        print(f"| {name} | {per_step:.3f} | {start_up:.0f} | {(start_up + max_steps * per_step) / 60:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
