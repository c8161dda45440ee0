from functools import partial

import numpy as np
import onnxruntime as ort
import pytest
import torch

from siammask.models import Adjust, Refine, TimmBackbone, XCorrHead, build_siammask
from siammask.onnx.graphs import export_onnx, search_output_names


@pytest.mark.parametrize("refine", [False, True])
def test_onnx_branches_match_pytorch_for_a_batch_of_two_targets(tmp_path, refine):
    torch.manual_seed(0)
    head = partial(XCorrHead, hidden_channels=16)
    net = build_siammask(TimmBackbone("resnet18", [0, 1, 2]), partial(Adjust, out_channels=16), head, head, head,
                         partial(Refine) if refine else None).eval()
    template_path, search_path = export_onnx(net, tmp_path, num_targets=2)
    templates, searches = torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    with torch.no_grad():
        feature = net.embed_template(templates)
        out = net(feature, searches)
    expected = [out.score, out.box, out.mask_corr, *out.skips]
    onnx_feature = ort.InferenceSession(str(template_path)).run(None, {"template": templates.numpy()})[0]
    np.testing.assert_allclose(onnx_feature, feature.numpy(), rtol=1e-3, atol=1e-3)
    got = ort.InferenceSession(str(search_path)).run(None, {"template_feature": feature.numpy(),
                                                            "search": searches.numpy()})
    assert len(got) == len(search_output_names(net)) == len(expected)
    for value, reference in zip(got, expected):
        scale = float(reference.abs().max()) or 1.0
        np.testing.assert_allclose(value / scale, reference.numpy() / scale, atol=1e-4)
