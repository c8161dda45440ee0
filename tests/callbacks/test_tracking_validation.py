import math

import pytest
import torch

from siammask.callbacks.tracking_validation import TrackingValidation
from model_fixtures import light_model_kwargs
from siammask.lit import ThreeBranchModule

VIDEOS = {"num_videos": 2, "num_frames": 4, "image_size": [96, 80], "num_targets": 2, "seed": 3}


def test_tracking_validation_scores_videos_and_restores_training_mode():
    module = ThreeBranchModule(**light_model_kwargs())
    module.train()
    callback = TrackingValidation(num_videos=2, videos=VIDEOS)
    metrics = callback.evaluate(module)
    assert set(metrics) == {"J", "F", "JF"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert math.isclose(metrics["JF"], (metrics["J"] + metrics["F"]) / 2)
    assert module.network.training


def test_tracking_validation_rejects_a_zero_period():
    with pytest.raises(ValueError, match="every_n_epochs"):
        TrackingValidation(every_n_epochs=0, videos=VIDEOS)
