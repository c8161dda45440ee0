"""Every config option composes, the main ones instantiate, and wrong keys fail at start."""

from pathlib import Path

import pytest
import yaml
from command_line import run_command
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from siammask.hydra_glue import refuse_unread_additions, register_resolvers

CONF = Path(__file__).resolve().parents[1] / "conf"
register_resolvers()


# Choices that refuse to resolve without model.backbone.checkpoint_path (tests/test_paper_recipe.py checks that).
NEEDS_IMAGENET_WEIGHTS = {"paper_resnet50_imagenet", "siammask_base", "siammask_two_branch"}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def compose_train(overrides: list[str]):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("group", ["model", "model/backbone", "model/head", "model/refine", "data", "trainer",
                                   "logger", "callbacks", "experiment", "debug", "hparams_search", "preemption"])
def test_every_option_of_every_group_composes(group):
    assert options(group), f"conf/{group} is empty"
    for choice in options(group):
        weights = ["model.backbone.checkpoint_path=/data/resnet.model"] if choice in NEEDS_IMAGENET_WEIGHTS else []
        cfg = compose_train([f"{group}={choice}", *weights])
        OmegaConf.resolve(cfg.model)  # interpolations inside the model resolve
        assert cfg.model._target_.startswith("siammask.lit.")


@pytest.mark.parametrize("backbone", ["regnetx_002", "resnet18_light", "mobilenetv3_large_100", "paper_resnet50"])
@pytest.mark.parametrize("model", ["three_branch", "two_branch"])
def test_models_instantiate_with_each_backbone(model, backbone):
    cfg = compose_train([f"model={model}", f"model/backbone={backbone}", "model.neck.out_channels=16",
                         "model.head.hidden_channels=16"])
    module = instantiate(cfg.model)
    assert (module.network.box_head is None) == (model == "two_branch")


def test_any_timm_name_can_replace_the_backbone():
    cfg = compose_train(["model.backbone.name=resnet34"])
    module = instantiate(cfg.model)
    assert module.network.backbone.name == "resnet34"


def test_refine_option_builds_the_refine_module():
    cfg = compose_train(["model/refine=sharp", "model.neck.out_channels=16", "model.head.hidden_channels=16"])
    assert instantiate(cfg.model).network.refine is not None


@pytest.mark.parametrize("override", ["model.no_such_key=1", "model/backbone=no_such_backbone", "no_group=x"])
def test_wrong_keys_and_groups_fail_at_composition(override):
    with pytest.raises(ConfigCompositionException):
        compose_train([override])


# The additions the docs and tests make: a constructor argument, callbacks, a store of a mixture.
READ_ADDITIONS = ["+trainer.limit_train_batches=2", "++trainer.enable_model_summary=false",
                  "+callbacks.signal._target_=signal_helpers.SignalAtStep", "+callbacks.signal.step=2",
                  "data=paper_mix", "+data.datasets.mine={path: data/custom_train, num_use: 50, frame_range: 20}"]


def test_a_key_added_where_nothing_reads_it_is_refused_in_one_line_and_the_documented_additions_pass():
    choices = ["crop", "data", "model/backbone"]
    cfg = compose_train(READ_ADDITIONS)
    refuse_unread_additions(cfg, READ_ADDITIONS, choices)
    for mistake, key in (("+max_frame=3", "max_frame"), ("+tracker.max_frame=3", "tracker.max_frame"),
                         ("+data.sampler.jitter=3", "data.sampler.jitter")):
        cfg = compose_train([mistake])
        with pytest.raises(ValueError, match=rf"^\+{key}: no part of this command reads '{key}'"):
            refuse_unread_additions(cfg, [mistake], choices)


def test_every_command_refuses_an_added_key_nobody_reads_and_leaves_no_empty_run_folder(tmp_path, capsys):
    from siammask.datamodules.check_store import main

    assert run_command(main, "path=nowhere", "+max_frame=3", run_dir=tmp_path / "run") == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: +max_frame: no part of this command")
    assert not (tmp_path / "run").exists()  # it held only Hydra's record of the command
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    assert run_command(main, "path=nowhere", "+max_frame=3", run_dir=tmp_path / "kept") == 1
    assert (tmp_path / "kept" / "notes.txt").read_text() == "mine" and (tmp_path / "kept" / ".hydra").is_dir()


def test_sharp_experiment_demands_a_base_checkpoint():
    cfg = compose_train(["experiment=siammask_sharp", "model.neck.out_channels=16", "model.head.hidden_channels=16"])
    assert list(cfg.model.train_only) == ["refine", "mask_head.conv_kernel", "mask_head.conv_search"]
    with pytest.raises(InstantiationException, match="model.init_from=<base checkpoint>"):
        instantiate(cfg.model)


def test_wandb_logger_is_offline_without_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = compose_train(["logger=wandb"])
    assert cfg.logger.wandb.offline is True


def test_the_quick_experiment_trains_at_the_measured_precision(monkeypatch, tmp_path):
    import siammask.precision
    from siammask.precision import KernelRates

    monkeypatch.delenv("SIAMMASK_PRECISION", raising=False)
    monkeypatch.setenv("SIAMMASK_CACHE_DIR", str(tmp_path))
    for fp32, bf16, expected in ((380.0, 734.0, "bf16-mixed"), (380.0, 120.0, "32-true")):
        monkeypatch.setattr(siammask.precision, "measure_rates", lambda pass_, f=fp32, b=bf16: KernelRates(f, b))
        (tmp_path / "precision.json").unlink(missing_ok=True)
        assert compose_train(["experiment=quick"]).trainer.precision == expected


def test_slurm_launcher_takes_nodes_and_tasks_from_the_trainer():
    cfg = compose_train(["hydra/launcher=slurm", "trainer=ddp", "trainer.num_nodes=2", "trainer.devices=8"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["nodes"], launcher["tasks_per_node"], launcher["gpus_per_node"]) == (2, 8, 8)


def _targets(node, where: str):
    """Every ``_target_`` node of a raw config file with the keyword arguments written beside it."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield where, node["_target_"], {k: v for k, v in node.items() if not k.startswith("_") and k != "defaults"}
        for key, value in node.items():
            yield from _targets(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")


def _signature(target):
    """The signature that receives the keyword arguments: past ``(*args, **kwargs)`` forwarding subclasses."""
    import inspect

    for owner in inspect.getmro(target) if inspect.isclass(target) else [target]:
        function = owner.__init__ if inspect.isclass(target) else owner
        signature = inspect.signature(function)
        kinds = {p.kind for p in signature.parameters.values() if p.name != "self"}
        if kinds != {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}:
            return signature
    return signature


CONFIG_TARGETS = [(f"{path.relative_to(CONF)}{where}", target, kwargs)
                  for path in sorted(CONF.rglob("*.yaml"))
                  for where, target, kwargs in _targets(yaml.safe_load(path.read_text()), "")]


def test_the_configs_name_targets():
    assert len(CONFIG_TARGETS) > 30 and any(t == "siammask.lit.ThreeBranchModule" for _, t, _ in CONFIG_TARGETS)


@pytest.mark.parametrize("where, target, kwargs", CONFIG_TARGETS, ids=[w for w, _, _ in CONFIG_TARGETS])
def test_every_target_imports_and_takes_the_keys_written_beside_it(where, target, kwargs):
    obj = get_object(target)
    assert callable(obj), f"{where}: {target} is not callable"
    try:
        _signature(obj).bind_partial(**kwargs)
    except TypeError as error:
        pytest.fail(f"{where}: {target} does not take {sorted(kwargs)}: {error}")


ENTRY_CONFIGS = sorted(p.stem for p in CONF.glob("*.yaml"))
MANDATORY_GROUPS = {"visualize": ["data=synthetic"]}  # groups an entry config leaves to the command line


@pytest.mark.parametrize("name", ENTRY_CONFIGS)
def test_every_entry_config_composes_and_names_its_task(name):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=MANDATORY_GROUPS.get(name, []))
    assert cfg.task_name == name  # the run folder: logs/<task_name>/runs/<time>


def test_every_command_reads_an_entry_config_that_exists():
    import re

    root = CONF.parent
    sources = [*root.glob("*.py"), *(root / "scripts").glob("*.py"), *(root / "datamodules").rglob("*.py"),
               *(root / "src").rglob("*.py")]
    named = {m for path in sources for m in re.findall(r'@command\("(\w+)"\)', path.read_text())}
    assert len(named) >= 14 and named <= set(ENTRY_CONFIGS)
