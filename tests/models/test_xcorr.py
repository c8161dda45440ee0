"""The three correlations against independent per-sample computations, the multi-level head's weighted sum, and
every head choice through ONNX Runtime (any number of targets)."""

from __future__ import annotations

from functools import partial

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from siammask.anchors import AnchorSpec
from siammask.models import Adjust, MultiLevelHead, Refine, TimmBackbone, XCorrHead, build_siammask
from siammask.models.network import head_levels
from siammask.models.xcorr import (
    CORRELATIONS,
    DepthwiseCorrelation,
    PixelwiseCorrelation,
    UpChannelCorrelation,
    per_sample_conv,
    pixelwise_similarity,
)
from siammask.onnx.graphs import export_mask_graphs, export_onnx
from siammask.points import PointSpec


def features(batch: int = 2, channels: int = 3, template: int = 4, search: int = 9) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(batch, channels, template, template, generator=generator),
            torch.randn(batch, channels, search, search, generator=generator))


def test_depthwise_correlation_is_each_channel_convolved_with_its_own_template_channel() -> None:
    kernel, search = features()
    expected = torch.stack([torch.cat([F.conv2d(search[b:b + 1, c:c + 1], kernel[b:b + 1, c:c + 1])
                                       for c in range(3)], dim=1)[0] for b in range(2)])
    torch.testing.assert_close(DepthwiseCorrelation(3)(kernel, search), expected)


def test_up_channel_correlation_is_a_full_convolution_with_the_lifted_template_per_sample() -> None:
    kernel, search = features()
    correlation = UpChannelCorrelation(3, width=5)
    lifted = correlation.lift(kernel)  # (B, 5 * 3, h, w)
    expected = torch.cat([F.conv2d(search[b:b + 1], lifted[b].reshape(5, 3, 4, 4)) for b in range(2)])
    out = correlation(kernel, search)
    assert out.shape == (2, 5, 6, 6)
    torch.testing.assert_close(out, expected)


def test_pixelwise_similarity_takes_every_template_position_as_a_1x1_kernel() -> None:
    kernel, search = features()
    expected = torch.cat([F.conv2d(search[b:b + 1], kernel[b].flatten(1).T.reshape(16, 3, 1, 1)) for b in range(2)])
    torch.testing.assert_close(pixelwise_similarity(search, kernel), expected)


@pytest.mark.parametrize("template_size", [4, 5])
def test_pixelwise_correlation_attends_over_template_positions_on_the_depthwise_grid(template_size: int) -> None:
    kernel, search = features(template=template_size)
    correlation = PixelwiseCorrelation(3).eval()
    # By loops: per search cell, softmax over the template cells of the scaled dot products, the weighted template
    # features beside the search feature, the 1x1 fuse; then the cells of the depthwise map's positions.
    values = torch.zeros_like(search)
    for b in range(2):
        cells = kernel[b].flatten(1)  # (C, h*w)
        for y in range(9):
            for x in range(9):
                weights = (cells.T @ search[b, :, y, x] / np.sqrt(3)).softmax(0)
                values[b, :, y, x] = cells @ weights
    fused = correlation.fuse(torch.cat([values, search], dim=1))
    size = 9 - template_size + 1
    if template_size % 2 == 0:  # centres between two cells: the mean of the 2x2 cells around them
        fused = (fused[..., :-1, :-1] + fused[..., 1:, :-1] + fused[..., :-1, 1:] + fused[..., 1:, 1:]) / 4
    start = (template_size - 1) // 2
    with torch.no_grad():
        torch.testing.assert_close(correlation(kernel, search), fused[..., start:start + size, start:start + size])


def test_correlations_keep_the_depthwise_response_size() -> None:
    kernel, search = features(channels=4, template=8, search=31)
    sizes = {name: XCorrHead(4, 2, 4, correlation=name).eval().xcorr(kernel, search).shape[-2:]
             for name in CORRELATIONS}
    assert set(sizes.values()) == {torch.Size([24, 24])}


def test_per_sample_conv_export_path_equals_the_grouped_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    _, search = features(batch=3)
    weight = torch.randn(3, 2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    grouped = per_sample_conv(search, weight)
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    torch.testing.assert_close(per_sample_conv(search, weight), grouped)


def test_an_unknown_correlation_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="depthwise.*up_channel.*pixelwise"):
        XCorrHead(4, 2, 4, correlation="dense")


def test_multi_level_head_sums_the_levels_with_softmax_weights() -> None:
    template, search = features(channels=6)
    head = MultiLevelHead(3, 2, levels=2, hidden_channels=4).eval()
    with torch.no_grad():
        head.level_weights.copy_(torch.tensor([0.0, np.log(3.0)]))  # weights 1/4, 3/4
        first = head.levels[0](template[:, :3], search[:, :3])
        second = head.levels[1](template[:, 3:], search[:, 3:])
        torch.testing.assert_close(head(template, search), 0.25 * first + 0.75 * second)


def test_head_levels_are_the_last_stride_8_maps_and_too_few_are_refused() -> None:
    assert head_levels([2, 4, 8, 8, 8], 1) == (4,)
    assert head_levels([2, 4, 8, 8, 8], 3) == (2, 3, 4)
    assert head_levels([2, 4, 8, 8], 2) == (2, 3)
    with pytest.raises(ValueError, match="levels=2 needs 2 backbone maps at stride 8.*out_indices"):
        head_levels([2, 4, 8], 2)


def head_network(head: str, correlation: str, refine: bool) -> torch.nn.Module:
    """A tiny random network of one head choice (narrow resnet18 cut at layer3, stride 8)."""
    torch.manual_seed(0)
    xcorr = partial(XCorrHead, hidden_channels=8, correlation=correlation, up_channel_width=4)
    box = partial(MultiLevelHead, levels=2, hidden_channels=8, correlation=correlation,
                  up_channel_width=4) if head == "multi_level" else xcorr
    decoder = PointSpec() if head == "anchor_free" else AnchorSpec()
    return build_siammask(TimmBackbone("resnet18", [0, 1, 2, 3]), partial(Adjust, out_channels=8), box, xcorr, box,
                          partial(Refine) if refine else None, decoder=decoder,
                          levels=2 if head == "multi_level" else 1).eval()


@pytest.mark.parametrize(("head", "correlation", "refine"), [
    ("depthwise", "up_channel", False), ("depthwise", "pixelwise", True), ("anchor_free", "depthwise", True),
    ("multi_level", "up_channel", True)])
def test_every_head_exports_to_onnx_and_matches_pytorch_for_three_targets(tmp_path, head: str, correlation: str,
                                                                            refine: bool) -> None:
    network = head_network(head, correlation, refine)
    template_path, search_path = export_onnx(network, tmp_path, num_targets=2, search_size=191)
    mask_path = export_mask_graphs(network, tmp_path, num_targets=2, search_size=191)["refine" if refine else
                                                                                       "mask_head"]
    generator = torch.Generator().manual_seed(2)
    templates = torch.rand(3, 3, 127, 127, generator=generator) * 255  # a batch the export did not trace
    searches = torch.rand(3, 3, 191, 191, generator=generator) * 255
    with torch.no_grad():
        feature = network.embed_template(templates)
        out = network(feature, searches)
        index = torch.tensor([0, 1, 2])
        masks = network.masks_at(out, index, torch.tensor([3, 0, 7]), torch.tensor([1, 5, 7]))
    got = ort.InferenceSession(str(search_path)).run(None, {"template_feature": feature.numpy(),
                                                            "search": searches.numpy()})
    expected = [out.score, out.box, out.mask_corr, *out.skips]
    assert ort.InferenceSession(str(template_path)).run(None, {"template": templates.numpy()})[0].shape == feature.shape
    feeds = {"mask_corr": got[2], "batch_index": index.numpy(), "rows": np.array([3, 0, 7]), "cols": np.array([1, 5, 7])}
    if refine:
        feeds.update({f"skip{i}": skip for i, skip in enumerate(got[3:])})
    got.append(ort.InferenceSession(str(mask_path)).run(None, feeds)[0])
    expected.append(masks)
    for value, reference in zip(got, expected):
        scale = float(reference.abs().max()) or 1.0
        np.testing.assert_allclose(value / scale, reference.numpy() / scale, atol=1e-4)
