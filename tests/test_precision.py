"""siammask.precision: the rule (bf16 only where measured faster), the cache that keeps a run and its resume on
one precision, the forcing variable, and the resolver train configs use."""

from __future__ import annotations

import json

import pytest

from siammask import precision
from siammask.hydra_glue import fast_precision
from siammask.precision import KernelRates, choose_precision, decide


@pytest.mark.parametrize("fp32, bf16, expected", [
    (380.0, 734.0, "bf16"),   # issue 28's AMD EPYC with AVX512-BF16: 1.93x
    (380.0, 437.0, "bf16"),   # exactly 1.15x
    (380.0, 436.0, "fp32"),   # just under the margin
    (513.0, 120.0, "fp32"),   # emulated bf16 (no AVX512-BF16, or ONEDNN_MAX_CPU_ISA=AVX512_CORE)
])
def test_bf16_is_chosen_only_at_the_margin(fp32, bf16, expected):
    choice = decide(KernelRates(fp32=fp32, bf16=bf16), "training")
    assert choice.precision == expected
    assert choice.lightning == {"bf16": "bf16-mixed", "fp32": "32-true"}[expected]
    assert f"{fp32:.0f} GFLOP/s fp32, {bf16:.0f} GFLOP/s bf16" in choice.reason


def test_the_decision_is_measured_once_per_machine_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("SIAMMASK_PRECISION", raising=False)
    calls = []

    def fake_measure(pass_):
        calls.append(pass_)
        return KernelRates(fp32=300.0, bf16=600.0)

    monkeypatch.setattr(precision, "measure_rates", fake_measure)
    cache = tmp_path / "precision.json"
    first = choose_precision("training", "cpu", cache)
    second = choose_precision("training", "cpu", cache)
    assert calls == ["training"] and first.precision == second.precision == "bf16"
    assert "measured before on this machine" in second.reason
    (entry,) = json.loads(cache.read_text()).values()
    assert entry == {"precision": "bf16", "rates": {"fp32": 300.0, "bf16": 600.0}}
    # another instruction-set limit is another machine as far as kernels go: measured again
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    choose_precision("training", "cpu", cache)
    assert calls == ["training", "training"] and len(json.loads(cache.read_text())) == 2


def test_an_unreadable_cache_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.delenv("SIAMMASK_PRECISION", raising=False)
    monkeypatch.setattr(precision, "measure_rates", lambda pass_: KernelRates(fp32=300.0, bf16=100.0))
    cache = tmp_path / "precision.json"
    cache.write_text("{ not json")
    assert choose_precision("inference", "cpu", cache).precision == "fp32"
    assert len(json.loads(cache.read_text())) == 1


def test_the_environment_forces_a_precision_and_refuses_nonsense(monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "measure_rates", lambda pass_: pytest.fail("forced: nothing to measure"))
    monkeypatch.setenv("SIAMMASK_PRECISION", "bf16")
    assert choose_precision("training", "cpu", tmp_path / "p.json").precision == "bf16"
    monkeypatch.setenv("SIAMMASK_PRECISION", "fp16")
    with pytest.raises(ValueError, match="SIAMMASK_PRECISION must be fp32 or bf16"):
        choose_precision("training", "cpu", tmp_path / "p.json")


def test_a_real_measurement_gives_both_rates():
    rates = precision.measure_rates("inference", seconds=0.01)
    assert rates.fp32 > 0 and rates.bf16 > 0


def test_the_resolver_logs_the_rates_and_the_choice(monkeypatch, tmp_path, caplog):
    import siammask.hydra_glue

    monkeypatch.delenv("SIAMMASK_PRECISION", raising=False)
    monkeypatch.setenv("SIAMMASK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision, "measure_rates", lambda pass_: KernelRates(fp32=380.0, bf16=734.0))
    monkeypatch.setattr(siammask.hydra_glue, "_LOGGED", set())
    with caplog.at_level("INFO", logger="siammask.hydra_glue"):
        assert fast_precision("cpu") == "bf16-mixed"
    expected = "precision bf16-mixed: training convolutions 380 GFLOP/s fp32, 734 GFLOP/s bf16 (1.93x): bf16 is faster"
    assert caplog.messages == [expected]
