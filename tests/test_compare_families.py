"""scripts/compare_families.py: the families table from a multirun's run folders."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location("compare_families_script", ROOT / "scripts/compare_families.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def fake_run(folder: Path, job: int, head: str, refine: str, J: float, fit_seconds: float, ms: float) -> None:
    """A finished families job: Hydra's records, train.py's and eval.py's result.json, track.py's timing.json
    (no checkpoint, so the script runs nothing)."""
    run = folder / str(job)
    (run / ".hydra").mkdir(parents=True)
    choices = {"model/head": head, "model/refine": refine, "model/backbone": "regnetx_002"}
    (run / ".hydra/hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}))
    (run / ".hydra/config.yaml").write_text(yaml.safe_dump({"trainer": {"max_steps": 4}}))
    (run / "result.json").write_text(json.dumps({"metrics": {"time/fit_seconds": fit_seconds}}))
    (run / "compare/eval").mkdir(parents=True)
    (run / "compare/eval/result.json").write_text(json.dumps(
        {"metrics": {"davis/J_mean": J, "davis/F_mean": J / 2, "vot/eao": J / 4}}))
    (run / "compare/track").mkdir(parents=True)
    (run / "compare/track/timing.json").write_text(json.dumps({"median_ms_per_frame": ms}))


def test_table_of_two_runs_lists_their_figures_and_every_pair_not_measured(tmp_path):
    folder = tmp_path / "families"
    fake_run(folder, 0, "depthwise", "none", 0.5, 8.0, 12.25)
    fake_run(folder, 1, "depthwise", "box", 0.625, 10.0, 20.0)
    doc = tmp_path / "families.md"
    doc.write_text("# Families\n\nbefore\n\n<!-- families table: scripts/compare_families.py -->\nold\n"
                   "<!-- end of families table -->\n\nafter\n")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("compare_families", overrides=[f"folder={folder}", f"out_md={doc}",
                                                     f"out_json={tmp_path / 'families.json'}", "paths.root_dir=."])
    table = script().compare(cfg)
    lines = table.splitlines()
    assert lines[0] == "| model/head | model/refine | J | F | EAO | train s/step | track ms/frame |"
    assert lines[2] == "| depthwise | box | 0.625 | 0.312 | 0.156 | 2.50 | 20.0 |"
    assert lines[3] == "| depthwise | none | 0.500 | 0.250 | 0.125 | 2.00 | 12.2 |"
    heads = sorted(p.stem for p in (ROOT / "conf/model/head").glob("*.yaml"))
    refines = sorted(p.stem for p in (ROOT / "conf/model/refine").glob("*.yaml"))
    missing = json.loads((tmp_path / "families.json").read_text())["missing"]
    expected = [{"model/head": h, "model/refine": r} for h in heads for r in refines
                if (h, r) not in {("depthwise", "none"), ("depthwise", "box")}]
    assert missing == expected and {"model/head": "depthwise", "model/refine": "sharp"} in missing
    text = doc.read_text()
    assert text.startswith("# Families\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "old" not in text
    assert table in text
