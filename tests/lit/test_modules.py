import pytest
import torch
from model_fixtures import light_model_kwargs, make_batch

from siammask.checkpoints import load_network
from siammask.lit import ThreeBranchModule, TwoBranchModule
from siammask.lit.module import sample_per_pair
from siammask.models import SearchOutput


def logged(module):
    values = {}
    module.log = lambda name, value, **kwargs: values.__setitem__(name, float(value.detach()) if torch.is_tensor(value) else float(value))
    return values


@pytest.mark.parametrize("cls, two_branch, refine", [(ThreeBranchModule, False, False), (ThreeBranchModule, False, True),
                                                     (TwoBranchModule, True, False), (TwoBranchModule, True, True)])
def test_training_steps_reduce_the_loss_on_a_fixed_batch(cls, two_branch, refine):
    torch.manual_seed(0)
    module = cls(**light_model_kwargs(refine=refine, two_branch=two_branch))
    values = logged(module)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    batch = make_batch()
    losses = []
    for _ in range(6):
        loss = module.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    expected = {"train/loss", "train/loss_score", "train/loss_mask", "train/box_iou", "train/mask_iou"}
    if not two_branch:
        expected.add("train/loss_box")
    assert expected <= set(values)
    assert 0.0 <= values["train/mask_iou"] <= 1.0


def test_mask_loss_is_zero_for_pairs_without_masks():
    module = ThreeBranchModule(**light_model_kwargs())
    values = logged(module)
    batch = make_batch()
    batch["has_mask"][:] = False
    module.training_step(batch, 0)
    assert values["train/loss_mask"] == 0.0 and "train/mask_iou" not in values


@pytest.mark.parametrize("two_branch", [False, True])
def test_batch_metrics_read_the_score_argmax_even_where_the_tracker_cosine_window_is_zero(two_branch):
    module = (TwoBranchModule if two_branch else ThreeBranchModule)(**light_model_kwargs(two_branch=two_branch))
    size, k = 17, module.anchor_spec.num_anchors
    score = torch.zeros(1, 1 if two_branch else 2 * k, size, size)
    score[0, 0 if two_branch else k + 2, 0, size - 1] = 5.0  # (foreground of anchor 2) at the top-right corner
    box = None if two_branch else torch.zeros(1, 4 * k, size, size)  # zero deltas: the box is the anchor
    rows, cols, box_xyxy = module.highest_score(SearchOutput(score, box, torch.zeros(1, 16, size, size), []))
    assert (int(rows), int(cols)) == (0, size - 1)
    if not two_branch:  # anchor 2 (ratio 1, 64 x 64) centred 8 cells of 8 px right of and above the 255 crop's centre
        torch.testing.assert_close(box_xyxy[0], torch.tensor([191.5 - 32, 63.5 - 32, 191.5 + 32, 63.5 + 32]))


def test_module_refuses_a_head_config_that_does_not_match_the_variant():
    with pytest.raises(ValueError, match="box head"):
        TwoBranchModule(**light_model_kwargs(two_branch=False))


def test_train_only_freezes_everything_else_and_names_unknown_parts(tmp_path):
    base = tmp_path / "base.pt"
    torch.save({"state_dict": ThreeBranchModule(**light_model_kwargs()).state_dict()}, base)
    module = ThreeBranchModule(**light_model_kwargs(refine=True), train_only=["refine"], init_from=str(base))
    trainable = {n.split(".")[0] for n, p in module.network.named_parameters() if p.requires_grad}
    assert trainable == {"refine"}
    with pytest.raises(ValueError, match="train_only names no parameters"):
        ThreeBranchModule(**light_model_kwargs(), train_only=["refine"], init_from=str(base))


def test_checkpoint_round_trip_rebuilds_the_same_network(tmp_path):
    import pytorch_lightning as pl

    torch.manual_seed(0)
    module = ThreeBranchModule(**light_model_kwargs(refine=True))
    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    network = load_network(path)
    module.eval()
    batch = make_batch()
    with torch.no_grad():
        a = module(batch["template"], batch["search"])
        b = network(network.embed_template(batch["template"]), batch["search"])
    assert torch.equal(a.score, b.score) and torch.equal(a.box, b.box)


def test_init_from_loads_matching_weights_and_leaves_new_parts_fresh(tmp_path):
    base = ThreeBranchModule(**light_model_kwargs())
    path = tmp_path / "base.pt"
    torch.save({"state_dict": base.state_dict()}, path)
    sharp = ThreeBranchModule(**light_model_kwargs(refine=True), init_from=str(path))
    assert torch.equal(sharp.network.score_head.head[-1].weight, base.network.score_head.head[-1].weight)
    assert sharp.network.refine is not None


def test_load_network_names_a_file_that_is_not_ours(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="not a checkpoint of this project"):
        load_network(path)


def test_sample_per_pair_keeps_at_most_count_of_each_pairs_positions():
    positions = torch.zeros(3, 5, 5, dtype=torch.bool)
    positions[0, 1, :] = True  # 5 positions
    positions[1, 3, 2] = True  # 1 position
    torch.manual_seed(0)
    sampled = sample_per_pair(positions, 2)
    assert sampled.flatten(1).sum(1).tolist() == [2, 1, 0]
    assert not (sampled & ~positions).any()


def test_the_logged_ious_leave_the_refines_batchnorm_statistics_as_training_left_them():
    kwargs = light_model_kwargs(refine=True)
    module = ThreeBranchModule(**{**kwargs, "refine": {**kwargs["refine"], "batch_norm": True}})
    module.log = lambda *args, **kwargs: None
    norms = [m for m in module.network.refine.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and module.training
    batch = make_batch(2)
    output = module(batch["template"], batch["search"])
    before = [norm.running_mean.clone() for norm in norms]
    module.argmax_predictions(output)
    assert all(torch.equal(norm.running_mean, mean) for norm, mean in zip(norms, before))
    assert all(norm.training for norm in norms)
    module.training_step(batch, 0)  # the training forward does update them
    assert not all(torch.equal(norm.running_mean, mean) for norm, mean in zip(norms, before))


def test_mask_positions_per_pair_limits_the_rows_the_mask_loss_sees(monkeypatch):
    module = ThreeBranchModule(**light_model_kwargs(), mask_positions_per_pair=1)
    module.log = lambda *args, **kwargs: None
    seen = []
    original = module.network.masks_at
    monkeypatch.setattr(module.network, "masks_at",
                        lambda output, b, r, c, *box: seen.append(len(b)) or original(output, b, r, c, *box))
    batch = make_batch(4)
    module.training_step(batch, 0)
    assert seen[0] == int(batch["has_mask"].sum())  # one RoW per pair with a mask; then the metrics' chosen RoWs


def test_a_smaller_training_search_region_shrinks_the_score_map_by_one_cell_per_8_pixels():
    # Fully convolutional: a 223 search crop (32 px less than 255) gives a score map 4 cells smaller, whose
    # anchors still label the rectangle of make_batch positive, so the module trains on it unchanged.
    sizes = {}
    for search_size in (255, 223):
        module = ThreeBranchModule(**light_model_kwargs(), search_size=search_size)
        module.log = lambda *args, **kwargs: None
        batch = make_batch(2, search_size=search_size)
        output = module(batch["template"], batch["search"])
        sizes[search_size] = output.score.shape[-1]
        _, positives = module.score_losses(output, batch)
        assert positives[0].any() and not positives[1].any()  # the negative pair has none
        assert torch.isfinite(module.training_step(batch, 0))
    assert sizes[255] - sizes[223] == 4


@pytest.mark.parametrize("cls, two_branch", [(ThreeBranchModule, False), (TwoBranchModule, True)])
def test_every_trainable_parameter_gets_a_gradient_with_refine_at_a_few_rows(cls, two_branch):
    """What DDP needs without find_unused_parameters: no trainable parameter outside the loss graph."""
    module = cls(**light_model_kwargs(refine=True, two_branch=two_branch), mask_positions_per_pair=1)
    logged(module)
    module.training_step(make_batch(), 0).backward()
    assert [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None] == []
    assert not any(p.requires_grad for p in module.network.mask_head.head.parameters())  # refine replaces it
