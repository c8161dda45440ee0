"""What an exported graph is made from and where it is kept: its identity (checkpoint content hash, export
settings, calibration) stamped into every graph's metadata and a folder's manifest, the check that refuses a graph
of another checkpoint or configuration (never used silently), and the cache beside a checkpoint, one folder per
identity.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from siammask.crop import PAPER_CROP

log = logging.getLogger(__name__)

# Bumped whenever the graphs' inputs, outputs or arithmetic change: graphs of an older layout are then rebuilt.
EXPORT_FORMAT = 2  # 2: int8 weights quantised to 7 bits (siammask.onnx.quantize); the mask graphs take boxes
METADATA_KEY = "siammask_export"
MANIFEST = "export.json"
PRECISIONS = ("fp32", "int8")


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
