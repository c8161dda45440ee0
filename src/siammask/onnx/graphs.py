"""ONNX export of what a tracker runs: the template branch (once per target), the search branch (every frame: score,
box and mask correlation, and refine's skip maps) and the mask decoding at the chosen RoWs (the mask head, and
refine when the network has one), every graph for any number of targets.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from siammask.crop import PAPER_CROP
from siammask.models import SearchOutput, SiamMask
from siammask.onnx.identity import stamp_graphs


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
