"""The tracker with a box-conditioned refine: masks decoded at the chosen box, pasted where that box's window is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tracking_helpers import TENNIS_BOX_XYWH, tiny_network

from siammask.geometry import CropWindow, context_size, xywh_to_xyxy
from siammask.models import BoxRefine
from siammask.tracking import Tracker, TrackerConfig

BOX_XYXY = xywh_to_xyxy(np.array(TENNIS_BOX_XYWH))


@pytest.mark.parametrize("box_head", [True, False])
def test_mask_fills_the_window_of_the_decoded_box_in_image_pixels(box_head, tennis_frames) -> None:
    """A refine answering 'all target' shows where the tracker pastes its mask: the window around the box it was
    asked about, mapped from the search crop into the image by the crop's own geometry (computed here again)."""
    network = tiny_network(box=box_head, refine=True, refine_class=BoxRefine, roi_size=4, channels=(8, 8, 4))
    asked = []

    def all_target(skips, mask_corr, batch_index, rows, cols, centred_boxes_xyxy):
        asked.append(centred_boxes_xyxy.clone())
        return torch.full((len(batch_index), 16, 16), 20.0)

    network.refine.decode = all_target
    config = TrackerConfig(geometry="exact", box_mode="mask_minmax", seg_thr=0.5)  # 0.5: the edge of the window
    tracker = Tracker(network, config)
    tracker.init(tennis_frames[0], BOX_XYXY)
    centre, size = tracker._state.centre_xy[0].copy(), tracker._state.size_wh[0].copy()
    result = tracker.track(tennis_frames[1])[0]
    side_crop = context_size(*size, config.context_amount) * config.search_size / config.exemplar_size
    search = CropWindow(float(centre[0]), float(centre[1]), side_crop, config.search_size)
    (x0, y0, x1, y1), = (asked[0].double().numpy() + config.search_size / 2).tolist()
    w, h = x1 - x0, y1 - y0
    if not box_head:  # no box branch: the previous size, in crop pixels, at the chosen response
        np.testing.assert_allclose([w, h], size * search.scale, rtol=1e-5)
    window_side = max(context_size(w, h, 0.5), w, h)
    corners = search.points_to_image(np.array([[(x0 + x1 - window_side) / 2, (y0 + y1 - window_side) / 2],
                                               [(x0 + x1 + window_side) / 2, (y0 + y1 + window_side) / 2]]))
    height, width = tennis_frames[0].shape[:2]
    expected = np.clip(corners.reshape(-1), 0, [width, height, width, height])
    ys, xs = np.nonzero(result.mask)
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], expected, atol=1.0)


def test_box_refine_tracks_with_image_sized_masks_on_real_frames(tennis_frames) -> None:
    network = tiny_network(refine=True, refine_class=BoxRefine, roi_size=4, channels=(8, 8, 4))
    tracker = Tracker(network, TrackerConfig(box_mode="mask_minmax", seg_thr=0.0))
    tracker.init(tennis_frames[0], BOX_XYXY)
    for frame in tennis_frames[1:3]:
        result = tracker.track(frame)[0]
        assert result.mask.shape == frame.shape[:2] and result.mask.dtype == np.uint8
        assert np.all(np.isfinite(result.box_xyxy))
