"""The paper experiments compose to the release's training recipe (foolwood/SiamMask experiments/siammask_base,
siammask_sharp and tools/train_siammask*.py): weights, trainable parameters, schedules, data and checkpointing.
Only the model is built (no dataset is opened)."""

from itertools import pairwise
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf.errors import InterpolationResolutionError

from siammask.hydra_glue import register_resolvers
from siammask.models import PaperResNet50

CONF = Path(__file__).resolve().parents[1] / "conf"
register_resolvers()


def compose_train(overrides: list[str]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


@pytest.fixture(scope="module")
def imagenet_weights(tmp_path_factory) -> Path:
    """Stands in for the release's resnet.model: a backbone state dict in its layout, plus conv5 and fc."""
    path = tmp_path_factory.mktemp("weights") / "resnet.model"
    state = PaperResNet50().state_dict()
    state.update({"layer4.0.conv1.weight": torch.zeros(512, 1024, 1, 1), "fc.weight": torch.zeros(1000, 2048)})
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def base_checkpoint(imagenet_weights, tmp_path_factory) -> Path:
    module = instantiate(compose_train(["experiment=siammask_base",
                                        f"model.backbone.checkpoint_path={imagenet_weights}"]).model)
    path = tmp_path_factory.mktemp("base") / "epoch_011.ckpt"
    torch.save({"state_dict": module.state_dict()}, path)
    return path


def learning_rates(cfg, total_steps: int) -> list[float]:
    """The configured optimiser's learning rate at every step of the configured schedule."""
    optimizer = instantiate(cfg.model.optimizer, params=[torch.nn.Parameter(torch.zeros(1))])
    schedule = instantiate(cfg.model.scheduler, optimizer=optimizer, total_steps=total_steps)
    lrs = []
    for _ in range(total_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return lrs


def trainable_parts(module) -> set[str]:
    """Trainable parameters, summarised to their module two levels down (e.g. ``mask_head.conv_kernel``)."""
    return {".".join(n.split(".")[:2]) for n, p in module.network.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("experiment", ["siammask_base", "siammask_two_branch"])
def test_paper_experiments_refuse_to_start_without_imagenet_weights_and_say_where_they_come_from(experiment):
    cfg = compose_train([f"experiment={experiment}"])
    with pytest.raises(InterpolationResolutionError, match=r"resnet\.model.*model\.backbone\.checkpoint_path="):
        instantiate(cfg.model)


def test_base_trains_the_heads_then_layer2_and_layer3_from_epoch_10_as_the_release(imagenet_weights):
    cfg = compose_train(["experiment=siammask_base", f"model.backbone.checkpoint_path={imagenet_weights}"])
    module = instantiate(cfg.model)
    loaded = torch.load(imagenet_weights, weights_only=True)
    assert torch.equal(module.network.backbone.layer1[0].conv1.weight, loaded["layer1.0.conv1.weight"])
    unfreeze = instantiate(cfg.callbacks.unfreeze_backbone)
    unfreeze.freeze_before_training(module)
    heads = {"neck.downsample", "score_head.conv_kernel", "score_head.conv_search", "score_head.head",
             "box_head.conv_kernel", "box_head.conv_search", "box_head.head", "mask_head.conv_kernel",
             "mask_head.conv_search", "mask_head.head"}
    assert trainable_parts(module) == heads
    optimizer = instantiate(cfg.model.optimizer, params=[p for p in module.parameters() if p.requires_grad])
    unfreeze.finetune_function(module, 9, optimizer)
    assert trainable_parts(module) == heads
    unfreeze.finetune_function(module, 10, optimizer)
    assert trainable_parts(module) == heads | {"backbone.layer2", "backbone.layer3"}
    assert optimizer.param_groups[1]["lr"] == pytest.approx(0.1 * 0.005)  # release: features at lr x 0.1
    # release config.json lr: warm-up 0.001 -> 0.005 over 5 of 20 epochs (step), then log 0.005 -> 0.0025
    lrs = learning_rates(cfg, 2000)
    assert lrs[0] == pytest.approx(0.001) and lrs[500] == pytest.approx(0.005)
    assert lrs[-1] == pytest.approx(0.0025, 1e-3)


def test_two_branch_trains_score_and_mask_heads_on_a_frozen_backbone(imagenet_weights):
    cfg = compose_train(["experiment=siammask_two_branch", f"model.backbone.checkpoint_path={imagenet_weights}"])
    module = instantiate(cfg.model)
    instantiate(cfg.callbacks.unfreeze_backbone).freeze_before_training(module)
    assert trainable_parts(module) == {"neck.downsample", "score_head.conv_kernel", "score_head.conv_search",
                                       "score_head.head", "mask_head.conv_kernel", "mask_head.conv_search",
                                       "mask_head.head"}


def test_sharp_trains_refine_and_the_mask_correlation_on_143_crops_with_3x3_responses(base_checkpoint):
    cfg = compose_train(["experiment=siammask_sharp", f"model.init_from={base_checkpoint}"])
    module = instantiate(cfg.model)
    assert trainable_parts(module) == {"refine." + p for p in ("v0", "v1", "v2", "h0", "h1", "h2", "deconv",
                                                                "post0", "post1", "post2")} | {
        "mask_head.conv_kernel", "mask_head.conv_search"}
    base = torch.load(base_checkpoint, weights_only=True)["state_dict"]
    assert torch.equal(module.network.mask_head.conv_kernel[0].weight, base["network.mask_head.conv_kernel.0.weight"])
    module.train()
    module.on_train_epoch_start()  # the release: features and rpn in eval mode, mask and refine in train mode
    bn_modes = {name: m.training for name, m in module.network.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert {n for n, training in bn_modes.items() if training} == {"mask_head.conv_kernel.1",
                                                                   "mask_head.conv_search.1"}
    # Release sharp config.json: search 143, "size": 3; tracking keeps 255 crops and their 25x25 map.
    assert cfg.model.search_size == 143 == cfg.data.sampler.search_size
    with torch.no_grad():
        template = module.network.embed_template(torch.zeros(1, 3, 127, 127))
        assert module.network(template, torch.zeros(1, 3, 143, 143)).score.shape[-1] == 3
        assert module.network(template, torch.zeros(1, 3, 255, 255)).score.shape[-1] == 25
    search = torch.randint(0, 60, (2, 3, 143, 143), dtype=torch.uint8)
    mask = torch.zeros(2, 143, 143, dtype=torch.uint8)
    mask[:, 40:104, 40:104], search[:, :, 40:104, 40:104] = 1, 200
    batch = {"template": search[:, :, 8:135, 8:135].clone(), "search": search, "search_mask": mask,
             "search_bbox": torch.tensor([[40.0, 40.0, 104.0, 104.0]] * 2),
             "has_mask": torch.ones(2, dtype=torch.bool), "is_negative": torch.zeros(2, dtype=torch.bool)}
    module.training_step(batch, 0).backward()
    with_grad = {".".join(n.split(".")[:2]) for n, p in module.network.named_parameters() if p.grad is not None}
    assert with_grad == trainable_parts(module)


def test_sharp_schedule_optimiser_and_refine_init_are_the_release_ones(base_checkpoint):
    cfg = compose_train(["experiment=siammask_sharp", f"model.init_from={base_checkpoint}"])
    module = instantiate(cfg.model)
    assert {k: module.loss_weights[k] for k in ("score", "box", "mask")} == {"score": 0.0, "box": 0.0, "mask": 36.0}
    lrs = learning_rates(cfg, 1000)
    assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.0025, 1e-2)  # release: log 0.01 -> 0.0025
    assert all(a >= b for a, b in pairwise(lrs))  # no warm-up
    # kaiming_uniform_(a=1): bound sqrt(3 / fan_in), sqrt(3) times PyTorch's default 1 / sqrt(fan_in)
    weight = module.network.refine.v2[0].weight
    fan_in = weight[0].numel()
    assert (fan_in ** -0.5) * 1.2 < weight.abs().max() <= (3 / fan_in) ** 0.5


def test_sharp_data_is_youtube_vos_and_coco_with_the_release_search_jitter_and_no_negatives():
    data = compose_train(["experiment=siammask_sharp"]).data
    assert {k for k, v in data.datasets.items() if v is not None} == {"ytb_vos", "coco"}
    assert data.datasets.ytb_vos.num_use == 100000 and data.datasets.coco.num_use == -1
    assert data.val_datasets is None
    sampler = data.sampler
    assert (sampler.search_jitter.shift, sampler.search_jitter.scale, sampler.negative_rate) == (8, 0.18, 0.0)
    assert sampler.samples_per_epoch == 200000 and sampler.pick == "video"


@pytest.mark.parametrize("experiment", ["siammask_base", "siammask_sharp", "siammask_two_branch"])
def test_paper_experiments_keep_every_epoch_sample_per_video_blur_as_released_and_skip_bad_losses(experiment):
    cfg = compose_train([f"experiment={experiment}", "model.backbone.checkpoint_path=/data/resnet.model"])
    checkpoint = cfg.callbacks.model_checkpoint
    assert (checkpoint.save_top_k, checkpoint.every_n_epochs, checkpoint.monitor) == (-1, 1, None)
    assert checkpoint.filename == "epoch_{epoch:03d}"  # what select_checkpoint.py scores
    assert cfg.data.sampler.pick == "video" and cfg.data.sampler.photometric.blur_kernel == "release"
    assert (cfg.model.bad_loss, cfg.model.max_loss) == ("skip", 1e4)


def test_the_synthetic_default_keeps_per_track_sampling_motion_blur_and_stops_on_bad_losses():
    cfg = compose_train([])
    assert cfg.data.sampler.get("pick", "track") == "track"
    assert cfg.data.sampler.photometric.get("blur_kernel", "motion") == "motion"
    assert cfg.model.bad_loss == "stop" and cfg.model.max_loss is None
