"""Test-wide settings: one torch thread per test process (the suite runs two processes on two cores), and fp32
wherever a config says "the faster precision", so that no test's outcome depends on how fast this machine runs
bf16 (siammask.precision measures it otherwise; tests/test_precision.py tests the measurement itself)."""

import os

import torch

torch.set_num_threads(1)
os.environ["SIAMMASK_PRECISION"] = "fp32"  # inherited by the train.py / eval.py processes the tests start
