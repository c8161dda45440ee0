"""The protocol registry is the one place a protocol lives: every benchmark config names registered protocols and
readers, and a protocol added to the registry runs, is reported and plotted without touching anything else."""

import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.evaluation import PROTOCOLS, Entry, run_benchmark, write_report
from siammask.evaluation.baselines import StaticBoxTracker
from siammask.evaluation.datasets import BOX, READERS
from siammask.evaluation.protocols import Protocol, VotProtocol, benchmark_protocols
from siammask.evaluation.results import read_otb_boxes, write_otb_boxes
from siammask.evaluation.runners import run_otb
from siammask.evaluation.selection import selection_metric

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (ROOT / "conf" / "benchmark").glob("*.yaml"))


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_every_benchmark_config_names_a_registered_reader_and_protocols_whose_settings_are_valid(benchmark):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("eval", overrides=[f"benchmark={benchmark}", "++benchmark.root=/data"])
    plain = OmegaConf.to_container(cfg.benchmark, resolve=True)
    assert plain["reader"] in READERS
    protocols = benchmark_protocols(plain)
    assert list(protocols) == plain["protocols"]
    assert all(type(p) is PROTOCOLS[name] for name, p in protocols.items())


def test_the_vot_protocol_holds_its_parameters_as_the_config_gives_them():
    vot = VotProtocol({"burnin": "10", "skip": 5, "eao_interval": [100, 356]}, "vot2018")
    assert (vot.burnin, vot.skip, vot.eao_interval) == (10, 5, (100, 356))
    assert selection_metric({"name": "b", "protocols": ["ytvos", "otb", "vot"]}) == ("otb", "success_auc")


class LastBoxProtocol(Protocol):
    """A made-up protocol: one pass, scored by the mean width of the tracked boxes over the first one's."""

    name = "last_box"
    sequences = BOX
    columns = (("width_ratio", "Width ratio"),)
    sequence_columns = ("width_ratio",)
    headline = "width_ratio"

    def finished_path(self, out, sequence):
        return out / f"{sequence}.txt"

    def run(self, tracker, seq, out):
        write_otb_boxes(self.finished_path(out, seq.name), run_otb(tracker, seq))

    def score(self, seq, out):
        boxes = read_otb_boxes(self.finished_path(out, seq.name), seq.name, len(seq.frames))
        ratio = float(np.mean(boxes[:, 2]) / boxes[0, 2])
        return {"width_ratio": ratio}, ratio

    def summarise(self, scores):
        return {"width_ratio": float(np.mean(scores))}, {}


def test_a_protocol_added_to_the_registry_is_run_reported_and_selected_by(tmp_path, monkeypatch):
    monkeypatch.setitem(PROTOCOLS, LastBoxProtocol.name, LastBoxProtocol)
    benchmark = {"name": "synthetic", "reader": "synthetic", "num_videos": 1, "protocols": ["last_box"]}
    videos = SyntheticVideos(num_videos=1, num_frames=4, image_size=(96, 72), seed=3, num_targets=2)
    results = run_benchmark(benchmark, [Entry("static", tmp_path / "results", StaticBoxTracker)], videos,
                            progress=False)
    result = results["static"]["last_box"]
    assert result.summary == {"width_ratio": 1.0}  # the static tracker repeats the first box
    assert sorted(result.per_sequence) == ["video000_target1", "video000_target2"]
    assert (tmp_path / "results" / "last_box" / "video000_target1.txt").is_file()
    doc, table = write_report(tmp_path, benchmark, {}, results, main="static")
    assert json.loads((tmp_path / "metrics.json").read_text())["last_box"]["width_ratio"] == 1.0 == \
        doc["last_box"]["width_ratio"]
    assert "| tracker | Width ratio | sequences | failed |" in table and "| static | 1.000 | 2 | 0 |" in table
    assert selection_metric(benchmark) == ("last_box", "width_ratio")
