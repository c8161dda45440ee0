"""LMDB stores as TrackSources and datamodules: pair crops show the object where box and mask say,
workers (fork and spawn) read the same samples, the dataset configs build datamodules over stores."""

from __future__ import annotations

import pickle
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from siammask.datamodules.lmdb_source import LmdbDataModule, LmdbTrackSource
from siammask.datamodules.lmdb_store import StoreError, record_key
from siammask.datamodules.sampler import PairSampler, SourceSpec
from siammask.datamodules.sources import TrackSource
from test_prepare_layouts import AS_PAINTED, BUILDERS, assert_object_at, colour_of, prepared
from torch.utils.data import DataLoader

CONF = Path(__file__).resolve().parents[2] / "conf"
DATASETS = sorted(BUILDERS)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """One tiny prepared store per layout, plus a VID validation store."""
    base = tmp_path_factory.mktemp("stores")
    paths = {name: prepared(base / name, name, **AS_PAINTED.get(name, {})) for name in DATASETS}  # one colour each
    paths["vid_val"] = prepared(base / "vid_val", "vid", jpeg_quality=90)
    return paths


def assert_pair_matches(sampler: PairSampler, index: int, what: str) -> dict[str, torch.Tensor]:
    """Template and search crops of sample ``index`` show their object (by colour) at box and mask."""
    plan = sampler.plan(index)
    sample = sampler.render(plan)
    for key, ref in (("template", plan.template), ("search", plan.search)):
        source = sampler.specs[ref.source].source
        colour = colour_of(int(source.index.track_object[ref.track]))
        image = sample[key].permute(1, 2, 0).numpy()
        box = sample[f"{key}_bbox"].numpy()
        mask = sample["search_mask"].numpy() if key == "search" and bool(sample["has_mask"]) else None
        assert_object_at(image, box, mask, colour,
                         f"{what} sample {index} {key} ({source.name} track {ref.track})")
    stored_mask = sampler.specs[plan.search.source].source.frame(plan.search.track, plan.search.index).mask
    assert bool(sample["has_mask"]) == (stored_mask is not None and not plan.is_negative)
    return sample


def test_lmdb_source_implements_track_source_over_the_store_index(stores):
    source = LmdbTrackSource(stores["ytb_vos"])
    assert isinstance(source, TrackSource) and source.name == "ytb_vos" and source.has_masks
    assert [source.track_length(t) for t in range(source.num_tracks())] == [4, 3, 4, 3]
    assert [source.video_of(t) for t in range(source.num_tracks())] == [0, 0, 1, 1]
    assert [source.frame_number(1, i) for i in range(3)] == [0, 5, 10]  # file stems 00000, 00005, 00010
    assert LmdbTrackSource(stores["vid"], name="imagenet").name == "imagenet"
    assert not LmdbTrackSource(stores["det"]).has_masks


def test_out_of_range_track_or_frame_raises_index_error_naming_it(stores):
    source = LmdbTrackSource(stores["coco"])
    with pytest.raises(IndexError, match="track 6 outside 0..5"):
        source.frame(6, 0)
    with pytest.raises(IndexError, match="frame 1 outside 0..0 of track 0"):
        source.frame(0, 1)


def test_source_pickles_without_its_environment_and_the_copy_reads_the_same_frame(stores):
    source = LmdbTrackSource(stores["vid"])
    original = source.frame(1, 2)
    assert source._env is not None
    copy = pickle.loads(pickle.dumps(source))
    assert copy._env is None
    frame = copy.frame(1, 2)
    np.testing.assert_array_equal(frame.image, original.image)
    np.testing.assert_array_equal(frame.box_xyxy, original.box_xyxy)
    assert len(pickle.dumps(source)) < 20_000  # the index only, no image data


@pytest.mark.parametrize("dataset", DATASETS)
def test_sampled_pairs_from_each_store_show_the_object_at_box_and_mask(stores, dataset):
    source = LmdbTrackSource(stores[dataset])
    sampler = PairSampler([SourceSpec(source, num_use=12, frame_range=2)], augment=False, negative_rate=0.0,
                          seed=5)
    for index in range(len(sampler)):
        sample = assert_pair_matches(sampler, index, dataset)
        box = sample["template_bbox"].numpy()
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, [63.5, 63.5], atol=1e-3)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_read_the_samples_of_the_main_process(stores, context):
    spec = SourceSpec(LmdbTrackSource(stores["ytb_vos"]), num_use=6, frame_range=2)
    sampler = PairSampler([spec], augment=True, negative_rate=0.5, seed=2)
    expected = [sampler[i] for i in range(len(sampler))]  # opens the store here before the workers start
    workers = 2 if context == "fork" else 1
    loader = DataLoader(sampler, batch_size=None, num_workers=workers, multiprocessing_context=context)
    for want, got in zip(expected, loader, strict=True):
        for key in want:
            torch.testing.assert_close(got[key], want[key], msg=key)


def _compose_data(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train.yaml", overrides=overrides).data


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_config_takes_data_path_and_val_path(stores, dataset):
    data_cfg = _compose_data([f"data={dataset}", f"data.path={stores[dataset]}",
                              f"data.val_path={stores[dataset]}", "data.num_workers=0", "data.augment=false",
                              "data.sampler.negative_rate=0"])
    module = instantiate(data_cfg)
    assert isinstance(module, LmdbDataModule)
    module.setup("fit")
    (train,), (val,) = module.train_dataset.specs, module.val_dataset.specs
    assert train.source.name == val.source.name == dataset
    assert train.frame_range == data_cfg.frame_range
    for index in range(len(module.train_dataset)):
        assert_pair_matches(module.train_dataset, index, f"data={dataset}")


def test_paper_mix_config_mixes_every_store_with_its_num_use_and_frame_range(stores):
    overrides = [f"data.datasets.{name}.path={stores[name]}" for name in ("ytb_vos", "vid", "coco", "det")]
    overrides += [f"data.datasets.{name}.num_use=5" for name in ("ytb_vos", "vid", "coco", "det")]
    overrides += [f"+data.datasets.custom={{path: '{stores['custom']}', num_use: 5, frame_range: 20}}",
                  f"data.val_datasets.vid.path={stores['vid_val']}", "data=paper_mix", "data.num_workers=0",
                  "data.batch_size=4", "data.pin_memory=false", "data.augment=false",
                  "data.sampler.samples_per_epoch=null", "data.val_sampler.samples_per_epoch=null",
                  "data.min_steps_per_epoch=1",  # the epoch of the num_use (25 pairs), not 100 steps
                  "model.search_size=255"]  # the paper's crops (the data follow the model's search size)
    module = instantiate(_compose_data(overrides))
    module.setup("fit")
    specs = module.train_dataset.specs
    assert [(s.source.name, s.frame_range) for s in specs] == [
        ("ytb_vos", 20), ("vid", 100), ("coco", 1), ("det", 1), ("custom", 20)]
    assert len(module.train_dataset) == 25 and module.val_dataset.specs[0].num_use == 1000
    sources_seen = set()
    for index in range(len(module.train_dataset)):
        sample = assert_pair_matches(module.train_dataset, index, "paper_mix")
        sources_seen.add(module.train_dataset.plan(index).template.source)
        assert sample["template"].shape == (3, 127, 127) and sample["search"].shape == (3, 255, 255)
    assert sources_seen == {0, 1, 2, 3, 4}
    batch = next(iter(module.train_dataloader()))
    assert batch["search"].shape == (4, 3, 255, 255) and batch["has_mask"].dtype == torch.bool


def test_a_store_cut_with_other_crop_settings_than_the_sampler_is_refused_naming_both(stores):
    source = LmdbTrackSource(stores["coco"])
    assert (source.stored_crop["exemplar_size"], source.stored_crop["context_amount"]) == (127, 0.5)
    PairSampler([SourceSpec(source)], exemplar_size=127, context_amount=0.5, negative_rate=0.0)  # agrees: accepted
    with pytest.raises(ValueError, match=r"'coco' .* prepared with exemplar_size=127, but the pair sampler crops "
                                         r"with exemplar_size=100 "):
        PairSampler([SourceSpec(source)], exemplar_size=100, negative_rate=0.0)
    with pytest.raises(ValueError, match=r"prepared with context_amount=0.5, but the pair sampler crops with "
                                         r"context_amount=0.6 "):
        PairSampler([SourceSpec(source)], context_amount=0.6, negative_rate=0.0)


def test_the_crop_node_reaches_the_sampler_and_a_store_prepared_otherwise_is_refused(stores):
    overrides = ["data=coco", f"data.path={stores['coco']}", "data.num_workers=0", "data.sampler.negative_rate=0",
                 "crop.context_amount=0.6"]
    module = instantiate(_compose_data(overrides))
    with pytest.raises(ValueError, match=r"context_amount=0.5, but the pair sampler crops with context_amount=0.6"):
        module.setup("fit")


def test_mixture_can_leave_a_dataset_out_with_null(stores):
    module = LmdbDataModule({"coco": {"path": str(stores["coco"]), "num_use": 3, "frame_range": 1},
                             "det": None}, batch_size=2, num_workers=0)
    module.setup("fit")
    assert [s.source.name for s in module.train_dataset.specs] == ["coco"]


def test_missing_store_error_names_the_config_key_and_the_prepare_command(tmp_path):
    pattern = r"(?s)datasets\.coco\.path: no SiamMask LMDB store .*python -m siammask\.datamodules\.prepare dataset=<dataset>"
    with pytest.raises(StoreError, match=pattern):
        LmdbDataModule(path=str(tmp_path / "missing"), name="coco")


def test_every_missing_store_of_a_mixture_is_named_in_one_error(tmp_path, stores):
    with pytest.raises(StoreError) as error:
        LmdbDataModule({"ytb_vos": {"path": str(tmp_path / "ytb")}, "coco": {"path": str(stores["coco"])},
                        "vid": {"path": str(tmp_path / "vid")}},
                       val_datasets={"vid": {"path": str(tmp_path / "vid_val")}}, batch_size=2, num_workers=0)
    message = str(error.value)
    assert message.startswith("3 LMDB store(s) cannot be used") and "\n" not in message
    for key, folder in (("datasets.ytb_vos", "ytb"), ("datasets.vid", "vid"), ("val_datasets.vid", "vid_val")):
        assert f"{key}.path: no SiamMask LMDB store at {tmp_path / folder}" in message
    assert "datasets.coco" not in message  # the store that exists is not blamed


def test_path_and_datasets_together_or_neither_are_refused(stores):
    with pytest.raises(ValueError, match="either path"):
        LmdbDataModule({"coco": {"path": str(stores["coco"])}}, path=str(stores["coco"]))
    with pytest.raises(ValueError, match="either path"):
        LmdbDataModule()
    with pytest.raises(ValueError, match="datasets.coco: expected keys"):
        LmdbDataModule({"coco": {"path": str(stores["coco"]), "frames": 3}})


def test_corrupt_record_error_names_the_store_track_and_frame(tmp_path):
    out = prepared(tmp_path, "det")
    env = lmdb.open(str(out), map_size=1 << 30)
    with env.begin(write=True) as txn:
        txn.put(record_key(3), txn.get(record_key(3))[:-7])
    env.close()
    source = LmdbTrackSource(out)
    with pytest.raises(StoreError, match=r"record r0000000003 \(track 3 frame 0\): record length"):
        source.frame(3, 0)
