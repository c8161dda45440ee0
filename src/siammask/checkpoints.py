"""Every weights file in one place, without Lightning: this project's checkpoints and the official release's files
(foolwood/SiamMask, and pysot's copy of its network) read, checked, mapped onto the network strictly or partially
with a report of what was mapped, and the trained network rebuilt from its stored config.

Loading is safe: ``weights_only=True`` everywhere, so a checkpoint can never run code.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from siammask.box_coding import BoxDecoder
from siammask.models import SiamMask, build_network
from siammask.models.builder import box_decoder
from siammask.weights import (
    RELEASE_PREFIXES,
    network_state,
    read_weights_file,
    state_dict_of,
)

log = logging.getLogger(__name__)

PYSOT_ONLY = ("rpn_head.", "refine_head.")  # names that tell a pysot file from a plain state dict of this project
# Release file name -> the tracker preset of the release config it was published with (its README).
RELEASE_PRESETS = (("vot_ld", "vot18"), ("davis", "davis"), ("vot", "vot"))
PYSOT_PRESET = "vot18"  # pysot experiments/siammask_r50_l3/config.yaml TRACK: 0.10 / 0.41 / 0.32 / 0.15 = config_vot18


def check_device(device: str | torch.device) -> torch.device:
    """The device to load onto, refused up front when it is a CUDA device this machine does not have."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a device torch knows (cpu, cuda, cuda:1, ...)") from error
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device} but torch sees no CUDA GPU here (torch.cuda.is_available() is "
                             f"False): use device=cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device={device} but this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return parsed


def weights_format(payload: object, source: str | Path) -> str:
    """``project`` (a checkpoint of this project: network hyper-parameters inside), ``release`` (foolwood/SiamMask:
    SiamMask_VOT.pth, SiamMask_VOT_LD.pth, SiamMask_DAVIS.pth, base-stage files), ``pysot`` (STVIR/pysot's
    siammask_r50_l3 model.pth: the release's network under pysot's names) or ``state_dict`` (bare tensors under
    this project's names)."""
    if isinstance(payload, dict) and "backbone" in (payload.get("hyper_parameters") or {}):
        return "project"
    names = [k.removeprefix("module.") for k in state_dict_of(payload, source)]
    if names and all(n.startswith(tuple(RELEASE_PREFIXES)) for n in names):
        return "release"
    if any(n.startswith(PYSOT_ONLY) for n in names):
        return "pysot"
    return "state_dict"


def describe_foreign(state: Mapping[str, torch.Tensor], source: str | Path) -> str:
    """The message for a file that carries no network description: what it holds instead."""
    shown = ", ".join(sorted({k.split(".")[0] + ".*" for k in state})[:8])
    return (f"{str(source)!r} is not a checkpoint of this project (no network hyper-parameters inside) nor an "
            f"official SiamMask weights file (the release's features.*, rpn_model.*, mask_model.* or pysot's "
            f"backbone.*, rpn_head.*, mask_head.*); it holds {shown or 'no tensors'}")


def release_is_sharp(state: Mapping[str, torch.Tensor]) -> bool:
    """A release (or pysot) file of the sharp stage (it carries the refine module) rather than the base stage."""
    return any(k.removeprefix("module.").startswith(("refine_model.", "refine_head.")) for k in state)


def release_preset(source: str | Path, fmt: str = "release") -> str:
    """The tracker preset(s) to use with an official weights file: the one the release's README pairs with the
    file's name (SiamMask_VOT.pth: vot, SiamMask_VOT_LD.pth: vot18, SiamMask_DAVIS.pth: davis), pysot's config
    values (vot18) for a pysot file, else all three by use."""
    if fmt == "pysot":
        return f"tracker={PYSOT_PRESET}"
    name = Path(source).name.lower()
    return next((f"tracker={preset}" for key, preset in RELEASE_PRESETS if key in name),
                "tracker=vot (VOT2016), tracker=vot18 (VOT2018, SiamMask_VOT_LD) or tracker=davis (DAVIS, YouTube-VOS)")


def load_network_weights(network: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path,
                         allow_missing: bool = False) -> dict[str, str]:
    """Load ``network``'s tensors from ``state`` (any naming :func:`network_state` knows), read from ``source``;
    refuse foreign or reshaped tensors and (unless ``allow_missing``) partial files, naming the parts that differ
    (e.g. a release base model, no ``refine_model``, for a network built with refine). Returns what was mapped
    and, with ``allow_missing``, what the file left at its initialisation, as part summaries."""
    state = network_state(state)
    own = network.state_dict()
    missing = own.keys() - state.keys()
    problems = {
        "missing in the file": "" if allow_missing else _parts(missing),
        "not in the network": _parts(state.keys() - own.keys()),
        "of another shape": _parts(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape),
    }
    problems = {what: parts for what, parts in problems.items() if parts}
    if problems:
        detail = "; ".join(f"{what}: {parts}" for what, parts in problems.items())
        raise ValueError(f"{str(source)!r} does not fit this network ({detail})")
    network.load_state_dict(state, strict=not allow_missing)
    return {"mapped": _parts(own.keys() & state.keys()), "left as initialised": _parts(missing)}


def _parts(keys: Iterable[str]) -> str:
    """Tensor names summarised by their module, e.g. ``refine.* (26)``."""
    counts = Counter(key.split(".")[0] for key in keys)
    return ", ".join(f"{part}.* ({n})" for part, n in sorted(counts.items()))


def init_network_from(network: nn.Module, path: str | Path) -> dict[str, str]:
    """Start ``network`` from another run's weights (e.g. the sharp stage from a base checkpoint) or the official
    release's files, mapped strictly: every tensor of the file lands in the network; parts it lacks stay fresh.
    Returns the report of :func:`load_network_weights` (what was mapped, what was left as initialised)."""
    payload = read_weights_file(path)
    fmt = weights_format(payload, path)
    summary = load_network_weights(network, state_dict_of(payload, path), path, allow_missing=True)
    if not summary["mapped"]:
        raise ValueError(f"init_from={path!r}: no tensor matches this network")
    left = f"; left as initialised: {summary['left as initialised']}" if summary["left as initialised"] else ""
    log.info("init_from %s (%s weights): mapped %s%s", path, fmt, summary["mapped"], left)
    return summary


def release_model_config(sharp: bool, overrides: Sequence[str] = ()) -> DictConfig:
    """The ``model`` config of the official release's network: experiment=siammask_sharp's (with refine) or
    siammask_base's, read from this package's config files (so the network has one description): the model
    groups the experiment chooses and its ``model`` values over conf/model's defaults, without composing the train
    config (nor touching Hydra's state, so it works inside a running Hydra app). ``overrides`` are further
    ``model.<key>=<value>`` settings."""
    choices, sections = _experiment_model(f"siammask_{'sharp' if sharp else 'base'}")
    if "model" not in choices:
        raise ValueError("the release experiments choose no model config (override /model: ...)")
    model = OmegaConf.merge(_group_node("model", choices["model"], choices), *sections,
                            {"init_from": None, "train_only": None})
    root = OmegaConf.create({"crop": _conf_node("crop/paper.yaml"), "model": model})
    for override in overrides:
        if not override.startswith("model.") or "=" not in override:
            raise ValueError(f"model override {override!r} is not a model.<key>=<value> setting (e.g. "
                             f"model.neck.out_channels=256); the release network's config groups are fixed")
        root.merge_with(OmegaConf.from_dotlist([override]))
    if "checkpoint_path" in root.model.backbone:  # the release file carries the backbone: no ImageNet file to read
        root.model.backbone.checkpoint_path = None
    return root.model


def _conf_node(path: str) -> DictConfig:
    node = OmegaConf.create(resources.files("siammask.conf").joinpath(path).read_text())
    return node if isinstance(node, DictConfig) else OmegaConf.create({})


def _experiment_model(name: str) -> tuple[dict[str, str], list[DictConfig]]:
    """What an experiment file (conf/experiment) says of the model: its choices of the model's config groups
    (``model``, ``model/backbone``, ...) and its ``model`` values, its parent experiments' first (Hydra's order)."""
    node = _conf_node(f"experiment/{name}.yaml")
    choices: dict[str, str] = {}
    sections: list[DictConfig] = []
    for entry in node.get("defaults", []):
        if isinstance(entry, str):
            if entry != "_self_":  # a parent experiment: merged before this one
                parent_choices, parent_sections = _experiment_model(entry)
                choices.update(parent_choices)
                sections += parent_sections
            continue
        for key, option in entry.items():
            group = key.removeprefix("override ").lstrip("/")
            if group == "model" or group.startswith("model/"):
                choices[group] = option
    if "model" in node:
        sections.append(node.model)
    return choices, sections


def _choice(group: str, sub: str, default: str, defaults: list[Any], choices: Mapping[str, str]) -> str:
    """The option of sub-group ``group/sub``: the experiment's choice, else the defaults list's, where a
    ``${<group>/<other>}`` default (as ``targets: ${model/head}``) names the option chosen for that other group."""
    option = choices.get(f"{group}/{sub}", default)
    if isinstance(option, str) and option.startswith("${") and option.endswith("}"):
        other = option[2:-1]
        listed = {k: v for entry in defaults if isinstance(entry, Mapping) for k, v in entry.items()}
        option = choices.get(other, listed.get(other.removeprefix(f"{group}/"), option))
    return option


def _group_node(group: str, option: str, choices: Mapping[str, str]) -> DictConfig:
    """The file ``group/option.yaml`` with its defaults list applied as Hydra does: files of the same group it
    extends, then its sub-groups (``choices`` override their options), then its own values (at ``_self_``, else
    last)."""
    node = _conf_node(f"{group}/{option}.yaml")
    listed = node.pop("defaults", None)  # unresolved: Hydra's ``${<group>}`` choices are not config keys
    defaults: list[Any] = cast(list[Any], OmegaConf.to_container(listed, resolve=False)) if listed is not None else []
    parts: list[Any] = []
    for entry in defaults:
        if entry == "_self_":
            parts.append(node)
        elif isinstance(entry, str):
            parts.append(_group_node(group, entry, choices))
        else:
            parts += [{sub: _group_node(f"{group}/{sub}", _choice(group, sub, default, defaults, choices), choices)}
                      for sub, default in entry.items()]
    if "_self_" not in defaults:
        parts.append(node)
    return cast(DictConfig, OmegaConf.merge(*parts)) if parts else node


def load_network(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> SiamMask:
    """The network of a checkpoint, in eval mode; its architecture comes from the stored hyper-parameters."""
    return load_trained(ckpt_path, map_location)[0]


def load_trained(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> tuple[SiamMask, BoxDecoder]:
    """The network of a checkpoint and its box family (the anchors it was trained with, or its head's own decoder),
    from one read of the file.

    Takes this project's checkpoints (the architecture from their hyper-parameters), the official release's
    files as published (SiamMask_VOT.pth, SiamMask_VOT_LD.pth, SiamMask_DAVIS.pth, base-stage files) and pysot's
    siammask_r50_l3 model.pth (the same network): the paper network of experiment=siammask_sharp / siammask_base,
    every tensor mapped strictly. The device and the file are checked before anything is built.
    """
    device = check_device(map_location)
    path = Path(ckpt_path).expanduser()
    payload = read_weights_file(path)
    fmt = weights_format(payload, path)
    if fmt in ("release", "pysot"):
        state = state_dict_of(payload, path)
        sharp = release_is_sharp(state)
        model = release_model_config(sharp)
        decoder = box_decoder(model.head, cast(dict[str, Any], OmegaConf.to_container(model.anchors, resolve=True)))
        network = build_network(model.backbone, model.neck, model.head, model.refine, decoder)
        summary = load_network_weights(network, state, path)
        log.info("%s: official SiamMask weights (%s file, %s stage), mapped %s; their settings: %s", path, fmt,
                 "sharp" if sharp else "base", summary["mapped"], release_preset(path, fmt))
        return network.eval().to(device), decoder
    if fmt != "project":
        raise ValueError(describe_foreign(state_dict_of(payload, path), path))
    assert isinstance(payload, dict)  # weights_format calls only a dict a project checkpoint
    hparams = payload["hyper_parameters"]
    decoder = box_decoder(hparams["head"], hparams.get("anchors"))
    network = build_network(without_weight_files(hparams["backbone"]), hparams["neck"], hparams["head"],
                            hparams.get("refine"), decoder)
    state = {k.removeprefix("network."): v for k, v in payload["state_dict"].items() if k.startswith("network.")}
    network.load_state_dict(state)
    return network.eval().to(device), decoder


def without_weight_files(backbone: Mapping[str, Any]) -> dict[str, Any]:
    """The backbone config without its starting weights (e.g. the ImageNet ``resnet.model`` of a paper run): the
    checkpoint holds all weights, so rebuilding it must not need the original file or the hub."""
    plain = dict(backbone)
    if plain.get("checkpoint_path"):
        plain["checkpoint_path"] = None
    if plain.get("pretrained"):
        plain["pretrained"] = False
    return plain


def convert_weights(model_cfg: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: str | Path,
                    out_path: str | Path) -> tuple[Path, dict[str, str]]:
    """Write a checkpoint that eval.py / track.py load (``ckpt_path=``) from foreign network weights ``state``
    read from ``source`` (e.g. the official release's SiamMask_DAVIS.pth), with the ``model`` config that builds
    their network; returns its path and what was mapped.

    The config's own target (the training module) is instantiated, so the file carries the same
    hyper-parameters and tensor names as a checkpoint saved by training. Every tensor of the network must come
    from the file (:func:`load_network_weights`).
    """
    module = instantiate(model_cfg)
    summary = load_network_weights(module.network, state, source)
    out = Path(out_path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(),
                "converted_from": str(source)}, out)
    return out, summary
