"""Windows of a map around response-map positions: the RoW geometry shared by training and tracking.

Response position (r, c) of an S x S map looks at a window of the search crop centred at
``centre + ((r, c) - (S - 1) / 2) * stride`` pixels. On a feature map the window is a fixed number of
cells starting at ``offset + step * (r, c)``; the offset centres the middle position's window on the
map's centre. Gathering by index arithmetic (no Python loop over positions) keeps it exportable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align


def window_offset(map_size: int, window: int, step: float, score_size: int) -> int:
    """First cell of position 0's window so that the middle position's window is centred on the map.

    Sizes read from a tensor's shape while tracing an ONNX export arrive as tensors: ``int`` makes them the graph's
    constants (the map sizes of a crop size are fixed)."""
    map_size, score_size = int(map_size), int(score_size)
    return round((map_size - window) / 2 - step * (score_size - 1) / 2)


def gather_windows(maps: torch.Tensor, batch_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                   window: int, step: int, offset: int) -> torch.Tensor:
    """(B, C, H, W) maps -> (N, C, window, window) windows; cells outside the map read as zero.

    Indices are clamped into the map and the outside cells zeroed afterwards: padding the whole batch of maps
    instead (the windows reach far outside at the border RoWs) cost a quarter of a training step of the default.
    """
    height, width = maps.shape[-2:]
    span = torch.arange(window, device=maps.device)
    top = (offset + step * rows).view(-1, 1) + span.view(1, -1)  # (N, window)
    left = (offset + step * cols).view(-1, 1) + span.view(1, -1)
    inside = ((top >= 0) & (top < height)).view(-1, window, 1) & ((left >= 0) & (left < width)).view(-1, 1, window)
    picked = maps[batch_index.view(-1, 1, 1), :, top.clamp(0, height - 1).view(-1, window, 1),
                  left.clamp(0, width - 1).view(-1, 1, window)]
    picked = picked * inside.unsqueeze(-1).to(picked.dtype)
    return picked.permute(0, 3, 1, 2)  # advanced indexing puts the channel axis last


def paste_windows(windows: torch.Tensor, windows_xyxy: torch.Tensor, size: int) -> torch.Tensor:
    """Each (m, m) window of (N, m, m) resampled bilinearly into its square xyxy (pixels) of a (size, size)
    canvas, zero elsewhere: the inverse of :func:`crop_windows` (exact for ``m``-pixel windows at whole pixels).

    For pictures of predictions, not for the exported network.
    """
    count, m = windows.shape[0], windows.shape[-1]
    centres = torch.arange(size, dtype=windows.dtype, device=windows.device) + 0.5
    side = (windows_xyxy[:, 2:] - windows_xyxy[:, :2]).to(windows.dtype)  # (N, 2)
    # pixel centres -> the windows' normalised coordinates (grid_sample, align_corners=False)
    grid_x = 2 * (centres.view(1, -1) - windows_xyxy[:, 0:1]) / side[:, 0:1] - 1  # (N, size)
    grid_y = 2 * (centres.view(1, -1) - windows_xyxy[:, 1:2]) / side[:, 1:2] - 1
    grid = torch.stack([grid_x.view(count, 1, size).expand(count, size, size),
                        grid_y.view(count, size, 1).expand(count, size, size)], dim=-1)
    return F.grid_sample(windows.view(count, 1, m, m), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[:, 0]


def row_windows_xyxy(rows: torch.Tensor, cols: torch.Tensor, window: float, step: float,
                     offset: float) -> torch.Tensor:
    """(N, 4) square windows xyxy (search-crop pixels) of the RoWs at (rows, cols): side ``window``, the first
    starting at ``offset``, one every ``step`` pixels: the region a RoW decoder's mask covers."""
    left, top = offset + step * cols.float(), offset + step * rows.float()
    return torch.stack([left, top, left + window, top + window], dim=1)


def box_windows_xyxy(boxes_xyxy: torch.Tensor, context_amount: float) -> torch.Tensor:
    """(N, 4) square windows xyxy around boxes (N, 4) xyxy, in the boxes' coordinates: the box's context square
    (SiamFC's sqrt((w + p)(h + p)), p = context_amount (w + h)), widened to the box's longer side when that is
    longer (boxes of aspect beyond about 1:3), so the window always holds the whole box."""
    size = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).clamp(min=0)
    pad = context_amount * size.sum(1, keepdim=True)
    side = torch.maximum(((size + pad).prod(1, keepdim=True)).sqrt(), size.max(1, keepdim=True).values)
    centre = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2
    return torch.cat([centre - side / 2, centre + side / 2], dim=1)


def crop_windows(maps: torch.Tensor, batch_index: torch.Tensor, windows_xyxy: torch.Tensor,
                 size: int) -> torch.Tensor:
    """(B, C, H, W) maps -> (N, C, size, size): each window xyxy (map pixels, edge coordinates) resampled bilinearly
    at its bins' centres; outside the map reads as zero.

    A window of ``size`` whole pixels at a whole-pixel position reads the pixels themselves, as
    :func:`gather_windows` (one sample per bin, at the pixel centre); the one-pixel zero border keeps RoI Align
    from repeating the map's edge into the outside.
    """
    padded = F.pad(maps, (1, 1, 1, 1))
    rois = torch.cat([batch_index.to(windows_xyxy.dtype).view(-1, 1), windows_xyxy + 1.0], dim=1)
    return roi_align(padded, rois, size, spatial_scale=1.0, sampling_ratio=1, aligned=True)
