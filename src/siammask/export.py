"""ONNX export of the two branches a tracker runs: template (once per target) and search (every frame).

The mask of the chosen RoW is decoded outside the exported graph (a 1x1 head on one vector, or
refine), so the exported search branch returns the correlation feature and, with refine, the skips.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from siammask.crop import PAPER_CROP
from siammask.models import SiamMask


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


def search_output_names(network: SiamMask) -> list[str]:
    names = ["score"] + (["box"] if network.box_head is not None else []) + ["mask_corr"]
    return names + [f"skip{i}" for i in range(len(network.skip_indices))]


def export_onnx(network: SiamMask, out_dir: str | Path, num_targets: int = 1,
                exemplar_size: int = PAPER_CROP.exemplar_size, search_size: int = PAPER_CROP.search_size,
                opset: int = 17) -> tuple[Path, Path]:
    """Write ``template.onnx`` and ``search.onnx`` for ``num_targets`` targets per call.

    The batch is fixed at export: depthwise correlation is one grouped convolution whose group count
    (targets x channels) ONNX needs as a constant.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    network = network.eval()
    template = torch.zeros(num_targets, 3, exemplar_size, exemplar_size)
    with torch.no_grad():
        template_feature = network.embed_template(template)
    template_path, search_path = out_dir / "template.onnx", out_dir / "search.onnx"
    torch.onnx.export(TemplateBranch(network).eval(), (template,), template_path, input_names=["template"],
                      output_names=["template_feature"],
                      opset_version=opset, dynamo=False)
    outputs = search_output_names(network)
    torch.onnx.export(SearchBranch(network).eval(), (template_feature, torch.zeros(num_targets, 3, search_size, search_size)),
                      search_path, input_names=["template_feature", "search"], output_names=outputs,
                      opset_version=opset, dynamo=False)
    return template_path, search_path
