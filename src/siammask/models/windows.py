"""Windows of a map around response-map positions: the RoW geometry shared by training and tracking.

Response position (r, c) of an S x S map looks at a window of the search crop centred at
``centre + ((r, c) - (S - 1) / 2) * stride`` pixels. On a feature map the window is a fixed number of
cells starting at ``offset + step * (r, c)``; the offset centres the middle position's window on the
map's centre. Gathering by index arithmetic (no Python loop over positions) keeps it exportable.
"""

from __future__ import annotations

import torch


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


def paste_windows(windows: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, step: int, offset: int,
                  size: int) -> torch.Tensor:
    """Inverse of :func:`gather_windows` for one window per map: (N, m, m) -> (N, size, size), zero elsewhere.

    For pictures of predictions (a loop over N), not for the exported network.
    """
    count, m = windows.shape[0], windows.shape[-1]
    pad = max(0, -offset) + m
    canvas = windows.new_zeros(count, size + 2 * pad, size + 2 * pad)
    for i, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
        top, left = pad + offset + step * row, pad + offset + step * col
        canvas[i, top:top + m, left:left + m] = windows[i]
    return canvas[:, pad:pad + size, pad:pad + size]
