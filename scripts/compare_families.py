"""One table of the model families: every run of a multirun over config groups (by default conf/model/head x
conf/model/refine), evaluated, timed and written to docs/families.md (between its table markers) and
docs/families.json. See docs/families.md for the multirun that trains them.

    python scripts/compare_families.py folder=logs/families  (conf/compare_families.yaml)

Per run folder: the groups' choices (Hydra's ``.hydra/hydra.yaml``), the training's wall clock per step
(``time/fit_seconds`` of train.py's ``result.json`` over ``trainer.max_steps``), validation J, F and EAO from
``eval.py`` on the run's ``last.ckpt`` and the tracking time per frame from ``track.py``'s ``timing.json``; both
commands write into ``<run>/compare/`` and are not run again when their output is there. Choices of the groups
(the group folders' YAML files) without a finished run are listed as missing, so a new head or refine file shows
up in the table's next update.
"""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from siammask.command import command
from siammask.sweeps import RESULT_FILE

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
FIT_SECONDS_KEY = "time/fit_seconds"  # train.py's wall clock of trainer.fit
TABLE_START, TABLE_END = "<!-- families table: scripts/compare_families.py -->", "<!-- end of families table -->"


@dataclass
class Family:
    """One run: its choice per group, figures (None where a step did not produce them) and folder."""

    choices: dict[str, str]
    J: float | None
    F: float | None
    EAO: float | None
    seconds_per_step: float | None
    ms_per_frame: float | None
    run: str


def group_choices(conf_dir: Path, group: str) -> list[str]:
    """The options of a config group: its folder's YAML files (what Hydra's ``glob(*)`` sweeps)."""
    folder = conf_dir / group
    if not folder.is_dir():
        raise FileNotFoundError(f"config group {group!r} has no folder {folder}: give groups as paths under conf/, "
                                f"e.g. model/head")
    return sorted(p.stem for p in folder.glob("*.yaml"))


def run_folders(folder: Path) -> list[Path]:
    runs = sorted(p.parent.parent for p in folder.glob("*/.hydra/hydra.yaml"))
    if not runs:
        raise FileNotFoundError(f"{folder} holds no Hydra job folders (<n>/.hydra/hydra.yaml): pass the multirun "
                                f"folder of the families sweep (docs/families.md)")
    return runs


def run_choices(run: Path, groups: Sequence[str]) -> dict[str, str]:
    choices = yaml.safe_load((run / ".hydra/hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    return {group: str(choices.get(group)) for group in groups}


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _run_once(output: Path, command: list[str]) -> None:
    """Run an entry point unless its output file is already there (a re-run of the script skips finished work)."""
    if output.is_file():
        return
    log.info("running %s", " ".join(command))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log.warning("%s failed (exit %d): %s", command[1], result.returncode, result.stderr[-2000:])


def measure(run: Path, cfg: DictConfig) -> Family:
    """The figures of one run folder, evaluating and tracking its checkpoint first where not done yet."""
    choices = run_choices(run, cfg.groups)
    train = (_read_json(run / RESULT_FILE) or {}).get("metrics", {})
    max_steps = OmegaConf.load(run / ".hydra/config.yaml").trainer.max_steps
    seconds = train.get(FIT_SECONDS_KEY)
    ckpt = run / "checkpoints" / "last.ckpt"
    eval_dir, track_dir = run / "compare" / "eval", run / "compare" / "track"
    if ckpt.is_file():
        _run_once(eval_dir / RESULT_FILE, [sys.executable, "eval.py", f"ckpt_path={ckpt}", f"hydra.run.dir={eval_dir}",
                                           "progress=false", *cfg.eval_overrides])
        _run_once(track_dir / "timing.json", [sys.executable, "track.py", f"ckpt_path={ckpt}", f"output_dir={track_dir}",
                                              f"hydra.run.dir={track_dir}", "overlay=false", "progress=false",
                                              *cfg.track_overrides])
    metrics = (_read_json(eval_dir / RESULT_FILE) or {}).get("metrics", {})
    timing = _read_json(track_dir / "timing.json") or {}
    return Family(choices, metrics.get(cfg.metrics.J), metrics.get(cfg.metrics.F), metrics.get(cfg.metrics.EAO),
                  seconds / max_steps if seconds is not None and max_steps and max_steps > 0 else None,
                  timing.get("median_ms_per_frame"), str(run))


def missing_pairs(families: Sequence[Family], conf_dir: Path, groups: Sequence[str]) -> list[dict[str, str]]:
    """Every combination of the groups' choices that no run measured (no checkpoint, or not swept)."""
    done = {tuple(f.choices[g] for g in groups) for f in families if f.J is not None}
    options = [group_choices(conf_dir, group) for group in groups]
    return [dict(zip(groups, combo)) for combo in itertools.product(*options) if combo not in done]


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_table(families: Sequence[Family], missing: Sequence[Mapping[str, str]], groups: Sequence[str]) -> str:
    header = [*groups, "J", "F", "EAO", "train s/step", "track ms/frame"]
    rows = [[*(f.choices[g] for g in groups), _fmt(f.J, 3), _fmt(f.F, 3), _fmt(f.EAO, 3),
             _fmt(f.seconds_per_step, 2), _fmt(f.ms_per_frame, 1)]
            for f in sorted(families, key=lambda f: [f.choices[g] for g in groups])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]
    if missing:
        lines += ["", "Not measured: " + "; ".join(", ".join(f"{g}={c}" for g, c in m.items()) for m in missing)]
    return "\n".join(lines)


def write_outputs(families: Sequence[Family], missing: Sequence[Mapping[str, str]], cfg: DictConfig) -> str:
    """The table into the markdown file between its markers (the rest of the page kept), and the JSON."""
    table = markdown_table(families, missing, cfg.groups)
    source = f"Measured from `{cfg.folder}` by `scripts/compare_families.py`."
    md_path = Path(cfg.out_md)
    text = md_path.read_text() if md_path.is_file() else ""
    block = f"{TABLE_START}\n{source}\n\n{table}\n{TABLE_END}"
    if TABLE_START in text and TABLE_END in text:
        text = text[:text.index(TABLE_START)] + block + text[text.index(TABLE_END) + len(TABLE_END):]
    else:
        text = f"{text.rstrip()}\n\n{block}\n" if text else f"# Model families\n\n{block}\n"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(text)
    Path(cfg.out_json).write_text(json.dumps({"folder": str(cfg.folder), "groups": list(cfg.groups),
                                              "runs": [asdict(f) for f in families], "missing": list(missing)},
                                             indent=2) + "\n")
    return table


def compare(cfg: DictConfig, conf_dir: Path = ROOT / "conf") -> str:
    """Measure every run of ``cfg.folder``, write the markdown and JSON, return the table."""
    for group in cfg.groups:
        group_choices(conf_dir, group)  # an unknown group fails before any evaluation
    families = [measure(run, cfg) for run in run_folders(Path(cfg.folder).expanduser())]
    return write_outputs(families, missing_pairs(families, conf_dir, cfg.groups), cfg)


@command("compare_families")
def main(cfg: DictConfig) -> None:
    print(f"{compare(cfg)}\n\nWritten: {cfg.out_md}, {cfg.out_json}")


if __name__ == "__main__":
    main()
