"""Sample grid: layout, box and mask drawing; the Hydra CLI writes a PNG."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from command_line import run_command
from siammask.datamodules.visualize import (
    BOX_NEGATIVE_RGB,
    BOX_POSITIVE_RGB,
    GAP,
    main,
    sample_tile,
    save_sample_grid,
)


def fake_sample(negative: bool = False) -> dict[str, torch.Tensor]:
    mask = torch.zeros(255, 255, dtype=torch.uint8)
    mask[100:150, 80:160] = 1
    return {
        "template": torch.full((3, 127, 127), 100, dtype=torch.uint8),
        "search": torch.full((3, 255, 255), 100, dtype=torch.uint8),
        "template_bbox": torch.tensor([40.0, 50.0, 90.0, 80.0]),
        "search_bbox": torch.tensor([80.0, 100.0, 160.0, 150.0]),
        "search_mask": mask if not negative else torch.zeros_like(mask),
        "has_mask": torch.tensor(not negative),
        "is_negative": torch.tensor(negative),
    }


def test_tile_draws_boxes_on_their_edge_pixels_and_tints_the_mask():
    tile = sample_tile(fake_sample())
    search = tile[:, 127 + GAP:]
    assert tuple(tile[50, 40]) == BOX_POSITIVE_RGB and tuple(tile[79, 89]) == BOX_POSITIVE_RGB
    assert tuple(search[100, 80]) == BOX_POSITIVE_RGB and tuple(search[149, 159]) == BOX_POSITIVE_RGB
    assert tuple(search[125, 120]) != (100, 100, 100) and tuple(search[20, 20]) == (100, 100, 100)


def test_negative_tile_has_a_red_search_box_and_no_tint():
    search = sample_tile(fake_sample(negative=True))[:, 127 + GAP:]
    assert tuple(search[100, 80]) == BOX_NEGATIVE_RGB and tuple(search[125, 120]) == (100, 100, 100)


def test_grid_of_a_list_and_of_a_collated_batch_are_the_same_png(tmp_path):
    samples = [fake_sample(), fake_sample(negative=True), fake_sample()]
    batch = {key: torch.stack([s[key] for s in samples]) for key in samples[0]}
    a = cv2.imread(str(save_sample_grid(samples, tmp_path / "list.png", columns=2)))
    b = cv2.imread(str(save_sample_grid(batch, tmp_path / "batch.png", columns=2)))
    tile_w = 127 + GAP + 255
    assert a.shape == (2 * 255 + GAP, 2 * tile_w + GAP, 3)
    np.testing.assert_array_equal(a, b)


def test_empty_sample_list_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        save_sample_grid([], tmp_path / "none.png")


def test_cli_composes_the_data_config_and_writes_the_grid(tmp_path):
    out = tmp_path / "pairs.png"
    assert run_command(main, "data=synthetic", "data.train_sources.0.source.num_videos=3",
                       "data.sampler.negative_rate=0.5", f"out={out}", "n=3", run_dir=tmp_path / "run") == 0
    image = cv2.imread(str(out))
    assert image.shape == (255, 3 * (127 + GAP + 255) + 2 * GAP, 3)


@pytest.mark.parametrize("argv, message", [(["out=x.png"], "data"),
                                           (["data=synthetic", "bogus=1"], "bogus"),
                                           (["data=synthetic", "split=test"], "split must be train or val")])
def test_cli_refuses_missing_or_unknown_arguments(argv, message, tmp_path, capsys):
    assert run_command(main, *argv, run_dir=tmp_path / "run") == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
