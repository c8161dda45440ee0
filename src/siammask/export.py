"""ONNX export of what a tracker runs: the template branch (once per target), the search branch (every frame: score,
box and mask correlation, and refine's skip maps) and the mask decoding at the chosen RoWs (the mask head, and
refine when the network has one), every graph for any number of targets.

Graphs carry the identity of what they were made from (checkpoint content hash, export settings, calibration) in
their metadata, and :func:`check_graphs` compares it with what a tracker is about to run: a graph of another
checkpoint or configuration is refused, never used silently.

    python -m siammask.export ckpt_path=<model.ckpt | release .pth> output_dir=<dir> [precision=int8 calibration=...]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from siammask.crop import PAPER_CROP
from siammask.hydra_glue import project_root, user_errors
from siammask.models import SiamMask

log = logging.getLogger(__name__)

# Bumped whenever the graphs' inputs, outputs or arithmetic change: graphs of an older layout are then rebuilt.
EXPORT_FORMAT = 1
METADATA_KEY = "siammask_export"
MANIFEST = "export.json"
PRECISIONS = ("fp32", "int8")
GRAPH_NAMES = ("template", "search", "mask_head", "refine")


class TemplateBranch(nn.Module):
    def __init__(self, network: SiamMask) -> None:
        super().__init__()
        self.network = network

    def forward(self, template: torch.Tensor) -> torch.Tensor:
        return self.network.embed_template(template)


class SearchBranch(nn.Module):
    """Outputs ``score, box, mask_corr, *skips``; ``box`` is absent for two-branch networks."""

    def __init__(self, network: SiamMask) -> None:
        super().__init__()
        self.network = network

    def forward(self, template_feature: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.network(template_feature, search)
        heads = (out.score, out.box) if out.box is not None else (out.score,)
        return (*heads, out.mask_corr, *out.skips)


class MaskBranch(nn.Module):
    """Mask logits (N, m, m) at N chosen RoWs (``SiamMask.masks_at``) from the search branch's outputs.

    Inputs ``mask_corr, *skips, batch_index, rows, cols, centred_boxes_xyxy``; the skips only with refine; inputs
    the decoder does not read (the box for RoW decoders) are left out of the graph by the exporter.
    """

    def __init__(self, network: SiamMask, refine: bool) -> None:
        super().__init__()
        self.network = network
        self.refine = refine

    def forward(self, mask_corr: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        from siammask.models import SearchOutput

        *skips, batch_index, rows, cols, boxes = rest
        output = SearchOutput(mask_corr, None, mask_corr, list(skips))
        return self.network.masks_at(output, batch_index, rows, cols, boxes, refine=self.refine)


def search_output_names(network: SiamMask) -> list[str]:
    names = ["score"] + (["box"] if network.box_head is not None else []) + ["mask_corr"]
    return names + skip_names(network)


def skip_names(network: SiamMask) -> list[str]:
    return [f"skip{i}" for i in range(len(network.skip_indices))]


def _batch_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    return {name: {0: "targets"} for name in names}


def _onnx_export(*args: Any, **kwargs: Any) -> None:
    """``torch.onnx.export`` without the tracer's warnings about sizes it keeps as constants: a graph's crop sizes
    are fixed on purpose (only the number of targets varies)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)  # the RoW gathers' slices
        warnings.filterwarnings("ignore", "Exporting aten::index", UserWarning)  # RoW indices are never negative
        torch.onnx.export(*args, dynamo=False, **kwargs)


def export_onnx(network: SiamMask, out_dir: str | Path, num_targets: int = 2,
                exemplar_size: int = PAPER_CROP.exemplar_size, search_size: int = PAPER_CROP.search_size,
                opset: int = 17) -> tuple[Path, Path]:
    """Write ``template.onnx`` and ``search.onnx``; they take any number of targets per call (``num_targets`` is
    only the example batch the export traces)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    network = network.eval()
    template = torch.zeros(num_targets, 3, exemplar_size, exemplar_size)
    with torch.no_grad():
        template_feature = network.embed_template(template)
    template_path, search_path = out_dir / "template.onnx", out_dir / "search.onnx"
    _onnx_export(TemplateBranch(network).eval(), (template,), template_path, input_names=["template"],
                      output_names=["template_feature"], dynamic_axes=_batch_axes(["template", "template_feature"]),
                      opset_version=opset)
    outputs = search_output_names(network)
    inputs = ["template_feature", "search"]
    _onnx_export(SearchBranch(network).eval(),
                      (template_feature, torch.zeros(num_targets, 3, search_size, search_size)), search_path,
                      input_names=inputs, output_names=outputs, dynamic_axes=_batch_axes(inputs + outputs),
                      opset_version=opset)
    return template_path, search_path


def export_mask_graphs(network: SiamMask, out_dir: str | Path, num_targets: int = 2,
                       exemplar_size: int = PAPER_CROP.exemplar_size, search_size: int = PAPER_CROP.search_size,
                       opset: int = 17) -> dict[str, Path]:
    """Write ``mask_head.onnx`` (the 1x1 mask head at the chosen RoWs) and, for SiamMask-sharp, ``refine.onnx``."""
    out_dir = Path(out_dir)
    network = network.eval()
    template = torch.zeros(num_targets, 3, exemplar_size, exemplar_size)
    with torch.no_grad():
        output = network(network.embed_template(template), torch.zeros(num_targets, 3, search_size, search_size))
    index = torch.arange(num_targets, dtype=torch.int64)
    half = exemplar_size / 4  # a box of a target's size at the crop centre
    positions = (index, index, index, torch.tensor([[-half, -half, half, half]]).repeat(num_targets, 1))
    index_names = ["batch_index", "rows", "cols", "centred_boxes_xyxy"]
    paths = {}
    for name, refine in (("mask_head", False), ("refine", True)):
        if refine and network.refine is None:
            continue
        skips = tuple(output.skips) if refine else ()
        inputs = ["mask_corr", *(skip_names(network) if refine else []), *index_names]
        paths[name] = out_dir / f"{name}.onnx"
        _onnx_export(MaskBranch(network, refine).eval(), (output.mask_corr, *skips, *positions), paths[name],
                          input_names=inputs, output_names=["mask_logits"],
                          dynamic_axes={**_batch_axes([*inputs, "mask_logits"])}, opset_version=opset)
    return paths


@dataclass(frozen=True)
class ExportSettings:
    """What, besides the checkpoint, decides the graphs: crop sizes, opset, precision and the int8 calibration."""

    exemplar_size: int = PAPER_CROP.exemplar_size
    search_size: int = PAPER_CROP.search_size
    opset: int = 17
    precision: str = "fp32"
    calibration: str | None = None  # fingerprint of the calibration crops (int8 only)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"export precision must be one of {PRECISIONS}, got {self.precision!r}")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_identity(checkpoint_sha256: str, settings: ExportSettings) -> dict[str, Any]:
    """What a graph is made from; equal identities give interchangeable graphs."""
    return {"format": EXPORT_FORMAT, "checkpoint_sha256": checkpoint_sha256, **asdict(settings)}


def identity_key(identity: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()[:16]


def _stamp(path: Path, identity: Mapping[str, Any]) -> None:
    """Store the identity in the graph's own metadata, so a graph copied elsewhere still says what it is."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(dict(identity), sort_keys=True)
    onnx.save(model, str(path))


def graph_identity(path: Path) -> dict[str, Any] | None:
    """The identity stamped into a graph, or None for a graph written by something else."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    stamped = {entry.key: entry.value for entry in model.metadata_props}.get(METADATA_KEY)
    return None if stamped is None else json.loads(stamped)


def export_graphs(network: SiamMask, out_dir: str | Path, identity: Mapping[str, Any]) -> dict[str, Path]:
    """All fp32 graphs of ``network``, stamped with ``identity``, and the folder's manifest."""
    out_dir = Path(out_dir)
    template, search = export_onnx(network, out_dir, exemplar_size=identity["exemplar_size"],
                                   search_size=identity["search_size"], opset=identity["opset"])
    paths = {"template": template, "search": search,
             **export_mask_graphs(network, out_dir, exemplar_size=identity["exemplar_size"],
                                  search_size=identity["search_size"], opset=identity["opset"])}
    stamp_graphs(paths, out_dir, identity)
    return paths


def stamp_graphs(paths: Mapping[str, Path], out_dir: Path, identity: Mapping[str, Any]) -> None:
    for path in paths.values():
        _stamp(path, identity)
    (out_dir / MANIFEST).write_text(json.dumps({"identity": dict(identity),
                                                "graphs": {k: p.name for k, p in paths.items()}}, indent=2))


def check_graphs(out_dir: str | Path, identity: Mapping[str, Any], checkpoint: str | Path) -> dict[str, Path]:
    """The graphs of ``out_dir`` if every one was made from ``identity``; else a ValueError saying what differs."""
    out_dir = Path(out_dir)
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{str(out_dir)!r} holds no exported tracker graphs (no {MANIFEST}): write them with "
                                f"`python -m siammask.export ckpt_path={checkpoint} output_dir={out_dir}`")
    names = json.loads(manifest.read_text())["graphs"]
    missing = sorted({"template", "search", "mask_head"} - set(names))
    if missing:
        raise ValueError(f"{str(manifest)!r} lists no {', '.join(missing)} graph: export again with "
                         f"`python -m siammask.export ckpt_path={checkpoint} output_dir=<new dir>`")
    paths = {name: out_dir / file for name, file in names.items()}
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"exported graph {str(path)!r} is missing: export again with "
                                    f"`python -m siammask.export ckpt_path={checkpoint} output_dir={out_dir}`")
        found = graph_identity(path)
        differences = describe_differences(found, identity)
        if differences:
            raise ValueError(f"ONNX graph {str(path)!r} does not belong to checkpoint {str(checkpoint)!r} with these "
                             f"settings ({differences}): export again with `python -m siammask.export "
                             f"ckpt_path={checkpoint} output_dir=<new dir>`, or leave onnx_dir unset to use the cache")
    return paths


def describe_differences(found: Mapping[str, Any] | None, expected: Mapping[str, Any]) -> str:
    if found is None:
        return "it carries no siammask export metadata"
    return "; ".join(f"{key} is {found.get(key)!r}, expected {value!r}" for key, value in expected.items()
                     if found.get(key) != value)


def cache_dir(checkpoint: str | Path, identity: Mapping[str, Any]) -> Path:
    """Where first use exports to: beside the checkpoint, one folder per identity."""
    checkpoint = Path(checkpoint).expanduser()
    return checkpoint.parent / f"{checkpoint.name}.onnx" / identity_key(identity)


def cached_graphs(checkpoint: str | Path, identity: Mapping[str, Any],
                  build: Callable[[Path, Mapping[str, Any]], dict[str, Path]]) -> dict[str, Path]:
    """The graphs of the cache beside ``checkpoint`` for ``identity``, written by ``build(folder, identity)`` first
    if absent; a cached graph that does not match (a file copied over, an older export format) is rebuilt, with a
    warning."""
    folder = cache_dir(checkpoint, identity)
    if (folder / MANIFEST).is_file():
        try:
            return check_graphs(folder, identity, checkpoint)
        except (ValueError, FileNotFoundError) as error:
            log.warning("rebuilding the ONNX cache %s: %s", folder, error)
    log.info("exporting the tracker's ONNX graphs to %s (first use of this checkpoint and settings)", folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # written last: a folder without it is an unfinished export
    return build(folder, identity)


@user_errors
def run(cfg: DictConfig) -> Path:
    from siammask.tracking.backends import build_graphs

    ckpt = Path(cfg.ckpt_path).expanduser()
    out_dir = Path(cfg.output_dir).expanduser()
    paths = build_graphs(ckpt, cfg.tracker, out_dir, precision=cfg.precision, calibration=cfg.calibration)
    print(f"wrote {', '.join(p.name for p in paths.values())} and {MANIFEST} to {out_dir}; track with them: "
          f"track.py ... ckpt_path={ckpt} backend={'onnxruntime_int8' if cfg.precision == 'int8' else 'onnxruntime'} "
          f"onnx_dir={out_dir}", flush=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    """Compose ``conf/export.yaml`` with ``key=value`` overrides (Hydra's compose, as ``siammask.vot``)."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("PROJECT_ROOT", project_root())
    try:
        with initialize_config_module("siammask.conf", version_base="1.3"):
            cfg = compose("export", overrides=list(sys.argv[1:] if argv is None else argv))
    except HydraException as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        raise SystemExit(1) from None
    run(cfg)


if __name__ == "__main__":
    main()
