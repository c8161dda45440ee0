"""The prediction-image callback: the grid it draws, where it goes, and that drawing changes nothing."""

from types import SimpleNamespace

import cv2
import pytest
import torch
from model_fixtures import light_model_kwargs, make_batch
from siammask.callbacks.prediction_images import KEY, PredictionImages

from siammask.lit import ThreeBranchModule
from siammask.models.windows import gather_windows, paste_windows, row_windows_xyxy


class ImageLogger:
    def __init__(self):
        self.calls = []

    def log_image(self, key, images, step):
        self.calls.append((key, [image.shape for image in images], step))


def test_paste_windows_places_and_clips_a_hand_computed_window():
    windows = torch.arange(1.0, 5.0).view(1, 2, 2)  # [[1, 2], [3, 4]]
    pasted = paste_windows(windows, row_windows_xyxy(torch.tensor([0]), torch.tensor([1]), 2, step=3, offset=-1), size=4)
    expected = torch.zeros(1, 4, 4)
    expected[0, 0, 2:4] = torch.tensor([3.0, 4.0])  # the window starts at row -1, column 2: its first row is cut
    assert torch.equal(pasted, expected)


def test_paste_windows_inverts_gather_windows_inside_the_map():
    windows = torch.rand(3, 5, 5)
    rows, cols = torch.tensor([0, 2, 1]), torch.tensor([1, 0, 2])
    pasted = paste_windows(windows, row_windows_xyxy(rows, cols, 5, step=4, offset=2), size=20)
    back = gather_windows(pasted.unsqueeze(1), torch.arange(3), rows, cols, window=5, step=4, offset=2)[:, 0]
    assert torch.equal(back, windows)


def test_paste_windows_scales_a_window_to_its_box():
    """A 2x2 window of ones over the 4x4 square at (2, 2): pixel centres x + 0.5 read the window at
    (x + 0.5 - 2) / 2 of its pixels, blending with the zero outside within half a window pixel of its edge."""
    pasted = paste_windows(torch.ones(1, 2, 2), torch.tensor([[2.0, 2.0, 6.0, 6.0]]), size=8)
    profile = torch.tensor([0.0, 0.25, 0.75, 1.0, 1.0, 0.75, 0.25, 0.0])
    assert torch.allclose(pasted[0], profile.view(-1, 1) * profile.view(1, -1))


def batch_with_template_boxes(size: int) -> dict:
    batch = make_batch(size)
    batch["template_bbox"] = torch.tensor([[33.0, 43.0, 94.0, 84.0]]).repeat(size, 1)
    return batch


def test_grid_goes_to_image_loggers_and_the_run_dir_every_n_steps(tmp_path):
    module = ThreeBranchModule(**light_model_kwargs())
    logger = ImageLogger()
    trainer = SimpleNamespace(global_step=4, default_root_dir=str(tmp_path), loggers=[logger])
    callback = PredictionImages(every_n_steps=4, num_pairs=2)
    callback.on_train_batch_end(trainer, module, None, batch_with_template_boxes(3), 0)
    tile_h, tile_w = 255, 127 + 4 + 255  # search crop; template + gap + search
    grid_shape = (2 * tile_h + 4, 2 * tile_w + 4, 3)  # two pairs: truth | prediction
    assert logger.calls == [(KEY, [grid_shape], 4)]
    written = cv2.imread(str(tmp_path / "predictions" / "step_000004.png"))
    assert written.shape == grid_shape
    trainer.global_step = 5
    callback.on_train_batch_end(trainer, module, None, batch_with_template_boxes(3), 0)
    assert len(logger.calls) == 1 and not (tmp_path / "predictions" / "step_000005.png").exists()


def test_drawing_keeps_batchnorm_statistics_and_module_modes():
    module = ThreeBranchModule(**light_model_kwargs())
    module.train()
    frozen = next(m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    frozen.eval()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    PredictionImages(num_pairs=2).render(module, batch_with_template_boxes(2))
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert module.training and not frozen.training


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="every_n_steps"):
        PredictionImages(every_n_steps=0)
