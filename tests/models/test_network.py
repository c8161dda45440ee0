from functools import partial

import pytest
import torch

from siammask.models import (
    Adjust,
    PaperResNet50,
    Refine,
    TimmBackbone,
    XCorrHead,
    build_siammask,
    depthwise_xcorr,
)
from siammask.models.network import refine_skip_indices
from siammask.models.windows import gather_windows, window_offset


def small_network(backbone=None, box=True, refine=False, width=16):
    backbone = backbone or TimmBackbone("resnet18", [0, 1, 2])
    head = partial(XCorrHead, hidden_channels=width)
    return build_siammask(backbone, partial(Adjust, out_channels=width), head, head, head if box else None,
                          partial(Refine) if refine else None).eval()


def test_depthwise_xcorr_equals_per_sample_per_channel_correlation():
    torch.manual_seed(0)
    search, kernel = torch.randn(2, 3, 9, 9), torch.randn(2, 3, 4, 4)
    out = depthwise_xcorr(search, kernel)
    for b in range(2):
        for c in range(3):
            expected = torch.nn.functional.conv2d(search[b:b + 1, c:c + 1], kernel[b:b + 1, c:c + 1])
            assert torch.allclose(out[b, c], expected[0, 0], atol=1e-5)


def test_paper_network_shapes_match_the_release():
    net = small_network(PaperResNet50(), width=256, refine=True)
    with torch.no_grad():
        template = net.embed_template(torch.zeros(2, 3, 127, 127))
        out = net(template, torch.zeros(2, 3, 255, 255))
        masks = net.masks_at(out, torch.tensor([0, 1]), torch.tensor([12, 3]), torch.tensor([12, 20]))
    assert template.shape == (2, 256, 7, 7)
    assert out.score.shape == (2, 10, 25, 25) and out.box.shape == (2, 20, 25, 25)
    assert out.mask_corr.shape == (2, 256, 25, 25)
    assert masks.shape == (2, 127, 127)


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv3_large_100"])
def test_timm_network_gives_a_25x25_response_and_63x63_masks(name):
    indices = [0, 1, 2] if name == "resnet18" else [0, 1, 2, 3]
    net = small_network(TimmBackbone(name, indices))
    with torch.no_grad():
        out = net(net.embed_template(torch.zeros(1, 3, 127, 127)), torch.zeros(1, 3, 255, 255))
        masks = net.masks_at(out, torch.tensor([0]), torch.tensor([4]), torch.tensor([7]))
    assert out.score.shape[-2:] == (25, 25)
    assert masks.shape == (1, 63, 63)


def test_two_branch_network_has_one_score_channel_and_no_box():
    net = small_network(box=False)
    with torch.no_grad():
        out = net(net.embed_template(torch.zeros(1, 3, 127, 127)), torch.zeros(1, 3, 255, 255))
    assert out.score.shape == (1, 1, 25, 25) and out.box is None


def test_mask_at_a_position_equals_decoding_the_full_map_there():
    torch.manual_seed(0)
    net = small_network()
    with torch.no_grad():
        out = net(net.embed_template(torch.rand(2, 3, 127, 127) * 255), torch.rand(2, 3, 255, 255) * 255)
        full = net.mask_head.decode(out.mask_corr)  # (B, 3969, S, S)
        picked = net.masks_at(out, torch.tensor([1]), torch.tensor([5]), torch.tensor([17]))
    assert torch.allclose(picked[0].flatten(), full[1, :, 5, 17], atol=1e-5)


def test_refine_windows_reproduce_the_release_padding_for_the_paper_sizes():
    # Release: F.pad(f0, 16) then [4r : 4r + 61]; f1 pad 8, [2r : 2r + 31]; f2 pad 4, [r : r + 15].
    assert window_offset(125, 61, 4, 25) == -16
    assert window_offset(63, 31, 2, 25) == -8
    assert window_offset(31, 15, 1, 25) == -4
    maps = torch.arange(2 * 3 * 31 * 31, dtype=torch.float32).view(2, 3, 31, 31)
    rows, cols = torch.tensor([0, 24, 7]), torch.tensor([3, 24, 11])
    got = gather_windows(maps, torch.tensor([0, 1, 1]), rows, cols, window=15, step=1, offset=-4)
    padded = torch.nn.functional.pad(maps, (4, 4, 4, 4))
    for i, (b, r, c) in enumerate([(0, 0, 3), (1, 24, 24), (1, 7, 11)]):
        assert torch.equal(got[i], padded[b, :, r:r + 15, c:c + 15])


def test_gathered_windows_pass_gradients_back_only_to_the_cells_they_read():
    torch.manual_seed(0)
    maps = torch.randn(2, 3, 31, 31, requires_grad=True)
    rows, cols, batch = torch.tensor([0, 24, 0]), torch.tensor([3, 24, 3]), torch.tensor([0, 1, 0])  # one window twice
    weights = torch.randn(3, 3, 15, 15)
    (gather_windows(maps, batch, rows, cols, window=15, step=1, offset=-4) * weights).sum().backward()
    reference = torch.zeros(2, 3, 39, 39)  # the maps padded by 4: windows reaching outside lose those cells
    for i, (b, r, c) in enumerate(zip(batch.tolist(), rows.tolist(), cols.tolist())):
        reference[b, :, r:r + 15, c:c + 15] += weights[i]
    assert torch.allclose(maps.grad, reference[:, :, 4:35, 4:35], atol=1e-6)


def test_refine_takes_the_next_coarser_map_where_a_stride_is_missing():
    net = small_network(TimmBackbone("resnet18", [1, 2, 3]), refine=True)  # strides 4, 8, 8: no stride-2 map
    assert net.skip_indices == (0, 0, 1) and net.refine.upsample == (2, 1, 1)
    with torch.no_grad():
        out = net(net.embed_template(torch.zeros(1, 3, 127, 127)), torch.zeros(1, 3, 255, 255))
        masks = net.masks_at(out, torch.tensor([0]), torch.tensor([4]), torch.tensor([7]))
    assert masks.shape == (1, 127, 127)


def test_refine_skips_are_the_paper_layers_when_the_backbone_has_all_strides():
    assert refine_skip_indices([2, 4, 8, 8]) == (0, 1, 2)  # conv1, layer1, layer2 (the release)
    assert refine_skip_indices([2, 4, 8]) == (0, 1, 2)  # the head's map doubles as the stride-8 skip
    assert refine_skip_indices([4, 8, 8, 8]) == (0, 0, 2)  # ConvNeXt: stride 4 upsampled for the stride-2 level
    assert refine_skip_indices([8]) == (0, 0, 0)


def test_refine_refuses_a_skip_finer_than_its_level():
    with pytest.raises(ValueError, match="stride-8 level needs"):
        Refine([8, 8, 8], 16, skip_reductions=(2, 4, 4))


@pytest.mark.parametrize("negative_slope, learns", [(0.0, False), (0.1, True)])
def test_a_refine_level_pushed_below_zero_still_learns_only_with_leaky_activations(negative_slope, learns):
    torch.manual_seed(0)
    refine = Refine(skip_channels=[8, 8, 8], corr_channels=8, negative_slope=negative_slope)
    with torch.no_grad():
        refine.h0[2].bias.fill_(-100.0)  # every output of the finest coarse-signal level below zero: a dead ReLU
    skips = [torch.randn(1, 8, 112, 112), torch.randn(1, 8, 56, 56), torch.randn(1, 8, 28, 28)]
    zero = torch.tensor([0])
    masks = refine(skips, torch.randn(1, 8, 1, 1), zero, torch.tensor([8]), torch.tensor([8]), score_size=17)
    masks.square().mean().backward()
    assert (refine.h0[2].weight.grad.abs().sum() > 0) == learns


def test_refine_with_batch_norm_normalises_every_level_convolution():
    refine = Refine(skip_channels=[8, 8, 8], corr_channels=8, batch_norm=True)
    for level in (refine.v0, refine.v1, refine.v2, refine.h0, refine.h1, refine.h2):
        convs = [m for m in level if isinstance(m, torch.nn.Conv2d)]
        norms = [m for m in level if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(convs) == len(norms) == 2 and all(conv.bias is None for conv in convs)
        assert [n.num_features for n in norms] == [c.out_channels for c in convs]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in Refine([8, 8, 8], 8).modules())
