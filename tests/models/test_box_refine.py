"""The box-conditioned refine (model/refine=box): its windows, labels, gradients and ONNX graph."""

from functools import partial

import numpy as np
import onnxruntime as ort
import pytest
import torch
from model_fixtures import light_model_kwargs, make_batch

from siammask.geometry import CropWindow
from siammask.lit import ThreeBranchModule, TwoBranchModule
from siammask.models import Adjust, BoxRefine, TimmBackbone, XCorrHead, build_siammask
from siammask.models.windows import box_windows_xyxy, crop_windows
from siammask.onnx.graphs import export_mask_graphs

BOX_REFINE = {"_target_": "siammask.models.BoxRefine", "_partial_": True, "roi_size": 4, "channels": [8, 8, 4],
              "box_jitter": 0.0}


def box_network(box: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    head = partial(XCorrHead, hidden_channels=8)
    return build_siammask(TimmBackbone("resnet18", [0, 1, 2]), partial(Adjust, out_channels=8), head, head,
                          head if box else None, partial(BoxRefine, roi_size=4, channels=(8, 8, 4))).eval()


def test_box_window_is_the_context_square_widened_to_the_longer_side():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 40.0], [0.0, 0.0, 200.0, 10.0]], dtype=torch.float64)
    # 40 x 20: p = 30, sqrt(70 * 50) = 59.16 around the centre (30, 30); 200 x 10: the context square (187.4) is
    # shorter than the box, which widens it to 200 around (100, 5)
    side = np.sqrt(70 * 50)
    expected = torch.tensor([[30 - side / 2, 30 - side / 2, 30 + side / 2, 30 + side / 2], [0.0, -95.0, 200.0, 105.0]],
                            dtype=torch.float64)
    torch.testing.assert_close(box_windows_xyxy(boxes, 0.5), expected)


def test_masks_have_the_refines_size_whatever_the_box():
    network = box_network()
    output = network(network.embed_template(torch.rand(2, 3, 127, 127) * 255), torch.rand(2, 3, 255, 255) * 255)
    boxes = torch.tensor([[-30.0, -20.0, 30.0, 20.0], [-100.0, -5.0, 60.0, 70.0], [0.0, 0.0, 8.0, 8.0]])
    with torch.no_grad():
        masks = network.masks_at(output, torch.tensor([0, 1, 1]), torch.tensor([3, 4, 5]), torch.tensor([3, 4, 5]),
                                 boxes)
    assert masks.shape == (3, 16, 16) == (3, network.mask_output_size, network.mask_output_size)
    assert network.mask_positions_per_pair == 1
    with pytest.raises(ValueError, match="centred_boxes_xyxy"):
        network.masks_at(output, torch.tensor([0]), torch.tensor([3]), torch.tensor([3]))


def test_label_of_a_known_box_is_the_search_masks_pixels_of_its_window():
    """A 63.5-pixel square box centred at (100.5, 90.5): its context square is 127 pixels from (37, 27), so the
    label is the mask's own pixels there, and equals the project's independent crop (CropWindow, OpenCV)."""
    module = ThreeBranchModule(**{**light_model_kwargs(), "refine": BOX_REFINE})
    generator = torch.Generator().manual_seed(1)
    masks = (torch.rand(2, 255, 255, generator=generator) > 0.5).to(torch.uint8)
    box = torch.tensor([[100.5 - 31.75, 90.5 - 31.75, 100.5 + 31.75, 90.5 + 31.75]])
    windows = module.network.mask_windows_xyxy(module.row_windows_xyxy(torch.tensor([0]), torch.tensor([0]), 25), box)
    torch.testing.assert_close(windows, torch.tensor([[37.0, 27.0, 164.0, 154.0]]))
    labels = module._mask_labels(masks, torch.tensor([1]), windows)
    assert torch.equal(labels[0], masks[1, 27:154, 37:164].float())
    independent = CropWindow(100.5, 90.5, 127.0, 127).crop(masks[1].numpy().astype(np.float32))
    np.testing.assert_allclose(labels[0].numpy(), independent, atol=1e-6)
    # a window between pixels (side 93.3 at (120.3, 141.7)) resampled: the same bilinear crop as OpenCV's, whose
    # coordinates are rounded to 1/32 pixel
    box = torch.tensor([[100.0, 130.0, 140.6, 153.4]])
    windows = module.network.mask_windows_xyxy(box, box)
    (x0, y0, x1, _), = windows.tolist()
    labels = module._mask_labels(masks, torch.tensor([1]), windows)
    independent = CropWindow((x0 + x1) / 2, y0 + (x1 - x0) / 2, x1 - x0, 127).crop(masks[1].numpy().astype(np.float32))
    np.testing.assert_allclose(labels[0].numpy(), independent, atol=1 / 32 + 1e-4)


def test_row_windows_cut_by_roi_align_equal_the_gathered_windows_with_zeros_outside():
    from siammask.models.windows import gather_windows, row_windows_xyxy

    maps = torch.rand(3, 2, 40, 40)
    batch, rows, cols = torch.tensor([0, 2, 1, 2]), torch.tensor([0, 3, 5, 1]), torch.tensor([4, 0, 5, 2])
    expected = gather_windows(maps, batch, rows, cols, 13, 4, -6)
    assert torch.equal(crop_windows(maps, batch, row_windows_xyxy(rows, cols, 13, 4, -6), 13), expected)


@pytest.mark.parametrize("module_class, two_branch", [(ThreeBranchModule, False), (TwoBranchModule, True)])
def test_training_step_trains_the_box_refine_from_the_ground_truth_box(module_class, two_branch):
    module = module_class(**{**light_model_kwargs(two_branch=two_branch), "refine": BOX_REFINE})
    decoded = []
    original = module.network.refine.decode
    module.network.refine.decode = lambda *args: decoded.append(args[-1].clone()) or original(*args)
    batch = make_batch(3)
    loss = module.training_step(batch, 0)
    loss.backward()
    # one query per pair with a mask (the negative last pair has none), at its ground-truth box from the centre
    torch.testing.assert_close(decoded[0], batch["search_bbox"][:2] - 127.5)
    refine_grads = [p.grad for p in module.network.refine.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in refine_grads)
    assert module.network.backbone.parameters().__next__().grad is not None


def test_training_boxes_stay_within_the_jitter_of_the_ground_truth():
    refine = BoxRefine([8, 8, 8], 8, box_jitter=0.2)
    truth = torch.tensor([[100.0, 50.0, 140.0, 70.0]]).repeat(500, 1)  # 40 x 20 around (120, 60)
    boxes = refine.training_boxes(truth)
    centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
    offset = (centre - torch.tensor([120.0, 60.0])) / torch.tensor([40.0, 20.0])
    ratio = (size / torch.tensor([40.0, 20.0])).log()
    assert offset.abs().max() <= 0.2 + 1e-6 and ratio.abs().max() <= 0.2 + 1e-6
    assert offset.abs().max() > 0.15 and ratio.abs().max() > 0.15  # the whole range is drawn
    assert torch.equal(BoxRefine([8, 8, 8], 8).training_boxes(truth), truth)


def test_onnx_graph_of_the_box_refine_matches_pytorch(tmp_path):
    network = box_network()
    templates, searches = torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    with torch.no_grad():
        output = network(network.embed_template(templates), searches)
        batch, positions = torch.tensor([1, 0, 1]), torch.tensor([3, 12, 20])
        boxes = torch.tensor([[-30.0, -20.0, 30.0, 20.0], [-100.5, -5.25, 60.0, 70.0], [10.0, 12.0, 40.0, 90.0]])
        expected = network.masks_at(output, batch, positions, positions, boxes)
    path = export_mask_graphs(network, tmp_path)["refine"]
    session = ort.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    assert names == ["mask_corr", "skip0", "skip1", "skip2", "batch_index", "centred_boxes_xyxy"]  # no RoW input
    values = {"mask_corr": output.mask_corr, "batch_index": batch, "centred_boxes_xyxy": boxes,
              **{f"skip{i}": skip for i, skip in enumerate(output.skips)}}
    got = session.run(None, {name: values[name].numpy() for name in names})[0]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-4)
