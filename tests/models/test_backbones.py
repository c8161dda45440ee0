import pytest
import torch

from siammask.models import InputNormalization, PaperResNet50, TimmBackbone


@pytest.mark.parametrize("size, expected", [(127, [61, 31, 15, 15]), (255, [125, 63, 31, 31])])
def test_paper_resnet50_feature_sizes_match_the_release(size, expected):
    net = PaperResNet50().eval()
    with torch.no_grad():
        features = net(torch.zeros(1, 3, size, size))
    assert [f.shape[-1] for f in features] == expected
    assert [f.shape[1] for f in features] == [64, 256, 512, 1024] == net.channels
    assert net.reductions == [2, 4, 8, 8]


def test_paper_resnet50_layer3_is_dilated_and_unstrided_like_the_release():
    net = PaperResNet50()
    first, later = net.layer3[0], net.layer3[1]
    assert first.conv2.stride == (1, 1) and first.conv2.dilation == (1, 1)
    assert later.conv2.dilation == (2, 2) and later.conv2.padding == (2, 2)
    assert net.conv1.padding == (0, 0) and net.layer2[0].conv2.padding == (0, 0)
    assert net.layer2[0].downsample[0].kernel_size == (3, 3)


@pytest.mark.parametrize("name, indices", [("resnet18", [0, 1, 2]), ("resnet18", [0, 1, 2, 3]),
                                            ("mobilenetv3_large_100", [0, 1, 2, 3]), ("efficientnet_b0", [0, 1, 2, 3])])
def test_timm_backbone_gives_stride_8_and_channels_from_feature_info(name, indices):
    net = TimmBackbone(name, indices).eval()
    with torch.no_grad():
        features = net(torch.zeros(1, 3, 255, 255))
    assert [f.shape[1] for f in features] == net.channels
    assert net.reductions[-1] == 8
    assert features[-1].shape[-1] == 32  # 255 / 8, rounded up by timm's padded convolutions
    assert [f.shape[-1] for f in features[:3]] == [128, 64, 32]


def test_unknown_backbone_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown timm backbone 'resnet_does_not_exist'"):
        TimmBackbone("resnet_does_not_exist", [0, 1, 2])


def test_backbone_without_stride_8_is_a_clear_error():
    with pytest.raises(ValueError, match="stride 32 .* needs 8"):
        TimmBackbone("resnet18", [0, 1, 2, 3, 4], output_stride=32)


def test_missing_local_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        TimmBackbone("resnet18", [0, 1, 2], checkpoint_path=str(tmp_path / "nothing.pth"))


def test_local_checkpoint_file_is_loaded_instead_of_downloading(tmp_path):
    import timm

    source = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    net = TimmBackbone("resnet18", [0, 1, 2], pretrained=True, checkpoint_path=str(path))
    assert torch.equal(net.model.conv1.weight, source.conv1.weight)


def test_input_normalization_rejects_non_rgb_images():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        InputNormalization()(torch.zeros(1, 4, 8, 8))


def test_paper_backbone_takes_raw_bgr_and_timm_takes_normalised_rgb():
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 255.0
    bgr = InputNormalization(bgr=True, scale_to_unit=False)(red)
    assert bgr[0, 2].eq(255).all() and bgr[0, :2].eq(0).all()
    timm_norm = InputNormalization(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))(red)
    assert torch.allclose(timm_norm[0, 0], torch.full((2, 2), 2.0)) and torch.allclose(timm_norm[0, 1], torch.full((2, 2), -2.0))


def test_pretrained_without_network_fails_fast_naming_the_fix(monkeypatch):
    from siammask.models import backbones

    monkeypatch.setattr(backbones, "_hub_reachable", lambda: False)
    with pytest.raises(RuntimeError, match="checkpoint_path"):
        TimmBackbone("resnet18", [0, 1, 2], pretrained=True)


@pytest.mark.parametrize("prefix", ["", "module.features.features.", "network.backbone."])
def test_paper_backbone_loads_its_weights_from_backbone_release_and_project_files(tmp_path, prefix):
    source = PaperResNet50()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        source.layer3[5].conv3.weight.copy_(torch.randn(source.layer3[5].conv3.weight.shape, generator=generator))
    state = {prefix + k: v for k, v in source.state_dict().items()}
    state["module.rpn_model.cls.head.3.bias" if prefix else "fc.bias"] = torch.zeros(10)  # not backbone: ignored
    torch.save({"state_dict": state}, tmp_path / "weights.pth")
    loaded = PaperResNet50(checkpoint_path=str(tmp_path / "weights.pth"))
    assert torch.equal(loaded.layer3[5].conv3.weight, source.layer3[5].conv3.weight)


def test_paper_backbone_refuses_a_file_without_backbone_tensors(tmp_path):
    torch.save({"rpn_model.cls.head.3.bias": torch.zeros(10)}, tmp_path / "head_only.pth")
    with pytest.raises(ValueError, match="no tensor of .*head_only.pth.* matches this backbone"):
        PaperResNet50(checkpoint_path=str(tmp_path / "head_only.pth"))


def test_paper_backbone_refuses_a_torchvision_layout_naming_the_shortcuts_that_would_stay_random(tmp_path):
    # torchvision's ResNet-50 names its tensors as the release does, but projects with 1x1 shortcuts everywhere
    # and has conv5 (layer4) and fc, which this backbone does not use.
    state = PaperResNet50().state_dict()
    state["layer2.0.downsample.0.weight"] = torch.zeros(512, 256, 1, 1)
    state["layer3.0.downsample.0.weight"] = torch.zeros(1024, 512, 1, 1)
    state["layer4.0.conv1.weight"] = torch.zeros(512, 1024, 1, 1)
    state["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(state, tmp_path / "torchvision.pth")
    with pytest.raises(ValueError) as error:
        PaperResNet50(checkpoint_path=str(tmp_path / "torchvision.pth"))
    message = str(error.value)
    assert ("of another shape (2): layer2.0.downsample.0.weight (512, 256, 1, 1) in the file, (512, 256, 3, 3)"
            in message)
    assert "layer3.0.downsample.0.weight (1024, 512, 1, 1) in the file" in message
    assert "layer4" not in message.split("(For")[0] and "fc.weight" not in message  # unused stages are no error


def test_paper_backbone_refuses_a_file_missing_tensors_and_accepts_one_without_bn_counters(tmp_path):
    state = {k: v for k, v in PaperResNet50().state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "no_counters.pth")  # old PyTorch files (the release's era) lack the counters
    PaperResNet50(checkpoint_path=str(tmp_path / "no_counters.pth"))
    del state["layer1.0.conv1.weight"], state["bn1.running_var"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"missing in the file \(2\): bn1.running_var, layer1.0.conv1.weight"):
        PaperResNet50(checkpoint_path=str(tmp_path / "partial.pth"))
