"""fp32 or bf16: chosen by measuring this machine's convolutions, not by reading CPU flags.

Whether bf16 pays on a CPU is not a property of one flag. AMX runs it fast; AVX512-BF16 without AMX runs bf16
convolutions ~2x faster than fp32 on AMD Zen 4 / Zen 5 (issue 28: 734 vs 365-398 GFLOP/s for a 3x3 convolution)
but trained slower on an Intel CPU with the same flag (issue 16); CPUs without either emulate it, several times
slower. So the choice is made by timing the kernels that dominate the network (3x3 convolutions of the heads'
width on a search-sized map, channels-last, the threads torch will use) in both precisions, forward only for
tracking and forward + backward for training, in well under a second.

The decision is cached per CPU model, thread count and oneDNN / ATen instruction-set limits
(``~/.cache/siammask/precision.json``, or ``$SIAMMASK_CACHE_DIR``), so a run and its resume use the same precision
whatever the machine's load at the time; a fixed step count stays the rule, so fp32 and bf16 runs differ only by
their arithmetic (different, not worse weights), never by how many steps they took.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

log = logging.getLogger(__name__)

Pass = Literal["inference", "training"]
PASSES: tuple[Pass, ...] = ("inference", "training")
# bf16 must beat fp32 by this factor to be chosen: below it the gain is within the measurement's noise on a shared
# machine, and fp32 is the precision whose figures the project reports.
BF16_MARGIN = 1.15
# What the probe convolves: the default network's 128-wide neck / heads on a 31x31 search feature map (255-pixel
# crop at stride 8), a batch of 2, 3x3 kernels.
PROBE_SHAPE = {"batch": 2, "channels": 128, "size": 31, "kernel": 3}
PROBE_SECONDS = 0.1  # per precision and pass: four timings, well under a second together
FORCE_ENV = "SIAMMASK_PRECISION"  # fp32 | bf16: skip the measurement (the test suite pins fp32 this way)
ENV_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA")


@dataclass(frozen=True)
class KernelRates:
    """GFLOP/s of the probe convolution in each precision for one pass."""

    fp32: float
    bf16: float

    @property
    def bf16_speedup(self) -> float:
        return self.bf16 / self.fp32


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision for one pass and why: the measured rates (None when nothing was measured) and the reason."""

    precision: Literal["fp32", "bf16"]
    reason: str
    rates: KernelRates | None = None

    @property
    def lightning(self) -> str:
        """The name Lightning's ``Trainer(precision=...)`` takes."""
        return "bf16-mixed" if self.precision == "bf16" else "32-true"


def decide(rates: KernelRates, pass_: Pass, margin: float = BF16_MARGIN) -> PrecisionChoice:
    """bf16 where it measured at least ``margin`` times fp32's rate, fp32 otherwise."""
    speedup = rates.bf16_speedup
    rate_text = f"{pass_} convolutions {rates.fp32:.0f} GFLOP/s fp32, {rates.bf16:.0f} GFLOP/s bf16 ({speedup:.2f}x)"
    if speedup >= margin:
        return PrecisionChoice("bf16", f"{rate_text}: bf16 is faster", rates)
    return PrecisionChoice("fp32", f"{rate_text}: bf16 is not {margin:.2f}x faster", rates)


def measure_rates(pass_: Pass, seconds: float = PROBE_SECONDS) -> KernelRates:
    """Time the probe convolution in fp32 and under bf16 autocast on the CPU (``pass_``: forward only, or forward
    + backward), each for about ``seconds`` after one warm-up call."""
    batch, channels, size, kernel = (PROBE_SHAPE[key] for key in ("batch", "channels", "size", "kernel"))
    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2).to(memory_format=torch.channels_last)
    features = torch.randn(batch, channels, size, size, generator=generator).to(memory_format=torch.channels_last)
    flop_per_call = 2 * batch * channels * channels * kernel * kernel * size * size * (3 if pass_ == "training" else 1)

    def call(bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if pass_ == "training":
                conv(features.requires_grad_(True)).float().sum().backward()
            else:
                with torch.inference_mode():
                    conv(features)

    def rate(bf16: bool) -> float:
        call(bf16)  # warm-up: oneDNN picks and caches its kernel on the first call
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds or calls < 1:
            call(bf16)
            calls += 1
        return flop_per_call * calls / elapsed / 1e9

    return KernelRates(fp32=rate(False), bf16=rate(True))


def machine_key() -> str:
    """What the decision depends on besides the code: the CPU model, torch's threads and version, and the
    instruction-set limits set in the environment (``ONEDNN_MAX_CPU_ISA=AVX512_CORE`` makes bf16 emulated)."""
    limits = ",".join(f"{name}={os.environ[name]}" for name in ENV_LIMITS if name in os.environ)
    return f"{cpu_model()} | threads={torch.get_num_threads()} | torch={torch.__version__} | {limits or 'no limits'}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_path() -> Path:
    root = os.environ.get("SIAMMASK_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "siammask"
    return Path(root) / "precision.json"


def choose_precision(pass_: Pass, device: str | torch.device = "cpu", path: Path | None = None) -> PrecisionChoice:
    """The precision for ``pass_`` on ``device``: GPUs by their bf16 support, CPUs by :func:`measure_rates`,
    read from the cache when this machine was measured before (``path``, default :func:`cache_path`), or forced
    by the environment variable ``SIAMMASK_PRECISION``."""
    if pass_ not in PASSES:
        raise ValueError(f"precision pass must be one of {PASSES}, got {pass_!r}")
    forced = os.environ.get(FORCE_ENV)
    if forced:
        if forced not in ("fp32", "bf16"):
            raise ValueError(f"{FORCE_ENV} must be fp32 or bf16, got {forced!r}")
        return PrecisionChoice(forced, f"forced by {FORCE_ENV}={forced}")  # type: ignore[arg-type]
    device = torch.device(device)
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "the GPU runs bf16 natively")
        return PrecisionChoice("fp32", "the GPU has no native bf16")
    if device.type != "cpu":
        return PrecisionChoice("fp32", f"no bf16 rule for device {device.type!r}")
    path = path or cache_path()
    key = f"{machine_key()} | {pass_}"
    cached = _read_cache(path)
    if key in cached:
        entry = cached[key]
        choice = decide(KernelRates(**entry["rates"]), pass_)
        return PrecisionChoice(choice.precision, f"{choice.reason} (measured before on this machine, {path})", choice.rates)
    choice = decide(measure_rates(pass_), pass_)
    assert choice.rates is not None
    cached[key] = {"precision": choice.precision, "rates": asdict(choice.rates)}
    _write_cache(path, cached)
    return choice


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: measure again (the cache only saves the measurement)
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict) -> None:
    """Written atomically; a cache that cannot be written costs a measurement next time, nothing else."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True))
        partial.replace(path)
    except OSError as error:
        log.warning("could not cache the precision decision in %s (%s); it is measured again next time", path, error)
