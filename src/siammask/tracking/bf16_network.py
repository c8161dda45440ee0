"""The PyTorch network in bf16 for tracking: weights and activations in bf16, the tracker's arithmetic in fp32.

On CPUs whose bf16 convolutions run about twice as fast as fp32 (AVX512-BF16 on AMD Zen 4 / Zen 5, AMX on Intel:
:mod:`siammask.precision` measures it), the network is most of a frame's time, so casting it halves the frame.
Only the network calls change: every tensor the tracker receives is fp32 again, so decoding, penalties, the cosine
window and the mask warp-back are the same code in the same precision as with an fp32 network. The weights are
cast once, after BatchNorm folding (folding in bf16 would round the folded scales twice); oneDNN accumulates bf16
convolutions in fp32, so what bf16 loses is the rounding of each layer's inputs and outputs, ~3 significant digits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from siammask.models import SearchOutput, SiamMask

BF16 = torch.bfloat16


class Bf16Network:
    """Stands in for :class:`~siammask.models.SiamMask` in the tracker (like the ONNX Runtime network): the same
    three calls, run by the wrapped network cast to bf16; anything else the tracker reads (head widths, mask size,
    decoding settings) is the wrapped network's."""

    def __init__(self, network: SiamMask) -> None:
        self.network = network.to(BF16).eval()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.network, name)

    def eval(self) -> Bf16Network:
        self.network.eval()
        return self

    def to(self, device: str | torch.device) -> Bf16Network:
        self.network.to(device)
        return self

    @torch.inference_mode()
    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        return self.network.embed_template(template.to(BF16)).float()

    @torch.inference_mode()
    def __call__(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True) -> SearchOutput:
        output = self.network(template_feature.to(BF16), search.to(BF16), with_mask=with_mask)
        return _cast(output, torch.float32)

    @torch.inference_mode()
    def masks_at(self, output: SearchOutput, batch_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 centred_boxes_xyxy: torch.Tensor | None = None, **options: Any) -> torch.Tensor:
        boxes = None if centred_boxes_xyxy is None else centred_boxes_xyxy.to(BF16)
        return self.network.masks_at(_cast(output, BF16), batch_index, rows, cols, boxes, **options).float()


def _cast(output: SearchOutput, dtype: torch.dtype) -> SearchOutput:
    """Every floating tensor of ``output`` (fields that are tensors or lists of tensors) in ``dtype``."""

    def cast(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(dtype) if value.is_floating_point() else value
        if isinstance(value, list):
            return [cast(item) for item in value]
        return value

    return dataclasses.replace(output, **{field.name: cast(getattr(output, field.name))
                                          for field in dataclasses.fields(output)})
