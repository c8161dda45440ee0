"""Torch box functions for training (batched, on the model's device): the tensor twins of the numpy ones in
:mod:`siammask.geometry`, with the same names, formats and edge-coordinate convention (pixel ``i`` spans
``[i, i + 1)``). Tensors keep their dtype and device; nothing leaves the GPU.
"""

from __future__ import annotations

import torch


def cxcywh_to_xyxy(boxes_cxcywh: torch.Tensor) -> torch.Tensor:
    half = boxes_cxcywh[..., 2:] / 2
    return torch.cat([boxes_cxcywh[..., :2] - half, boxes_cxcywh[..., :2] + half], dim=-1)


def xyxy_to_cxcywh(boxes_xyxy: torch.Tensor) -> torch.Tensor:
    return torch.cat([(boxes_xyxy[..., :2] + boxes_xyxy[..., 2:]) / 2, boxes_xyxy[..., 2:] - boxes_xyxy[..., :2]],
                     dim=-1)


def box_iou_xyxy(a_xyxy: torch.Tensor, b_xyxy: torch.Tensor) -> torch.Tensor:
    """IoU of boxes broadcast against each other."""
    wh = (torch.minimum(a_xyxy[..., 2:], b_xyxy[..., 2:]) - torch.maximum(a_xyxy[..., :2], b_xyxy[..., :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a_xyxy[..., 2] - a_xyxy[..., 0]).clamp(min=0) * (a_xyxy[..., 3] - a_xyxy[..., 1]).clamp(min=0)
    area_b = (b_xyxy[..., 2] - b_xyxy[..., 0]).clamp(min=0) * (b_xyxy[..., 3] - b_xyxy[..., 1]).clamp(min=0)
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


def masks_to_boxes_xyxy(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) boolean masks -> (N, 4) float32 tight boxes (as :func:`siammask.geometry.mask_to_box_xyxy`, in the
    masks' pixels); an empty mask gets the zero box, so a batch needs no per-mask branch."""
    h, w = masks.shape[-2:]
    any_x, any_y = masks.any(1), masks.any(2)  # (N, W) columns / (N, H) rows that hold mask
    xs = torch.arange(w, device=masks.device, dtype=torch.float32)
    ys = torch.arange(h, device=masks.device, dtype=torch.float32)
    x0 = torch.where(any_x, xs, float(w)).amin(1)
    x1 = torch.where(any_x, xs + 1, -float(w)).amax(1)
    y0 = torch.where(any_y, ys, float(h)).amin(1)
    y1 = torch.where(any_y, ys + 1, -float(h)).amax(1)
    boxes = torch.stack([x0, y0, x1, y1], dim=1)
    return torch.where(any_x.any(1).view(-1, 1), boxes, torch.zeros_like(boxes))
