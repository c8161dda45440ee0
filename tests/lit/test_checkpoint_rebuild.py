"""A checkpoint rebuilds its network without the files or downloads its training started from."""

import torch
from model_fixtures import light_model_kwargs

from siammask.checkpoints import load_trained
from siammask.lit import ThreeBranchModule


def test_a_run_started_from_imagenet_weights_loads_without_them(tmp_path):
    module = ThreeBranchModule(**light_model_kwargs())
    hparams = dict(module.hparams)
    # as a paper run stores it: the ImageNet file it started from (gone now) and the hub flag
    hparams["backbone"] = {**hparams["backbone"], "checkpoint_path": str(tmp_path / "gone" / "resnet.model"),
                           "pretrained": True}
    torch.save({"hyper_parameters": hparams, "state_dict": module.state_dict()}, tmp_path / "epoch_011.ckpt")
    network, _ = load_trained(tmp_path / "epoch_011.ckpt")
    expected = module.network.state_dict()
    assert all(torch.equal(value, expected[name]) for name, value in network.state_dict().items())
