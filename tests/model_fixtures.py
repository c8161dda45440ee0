"""Small SiamMask modules and batches for tests and the training benchmark; built here, nothing downloaded."""

from __future__ import annotations

import torch


def light_model_kwargs(refine: bool = False, two_branch: bool = False, backbone: str = "resnet18") -> dict:
    """Constructor arguments of a narrow SiamMask module (the same shape as conf/model/*.yaml)."""
    head = {name: {"_target_": "siammask.models.XCorrHead", "_partial_": True, "hidden_channels": 16}
            for name in ("score", "mask") + (() if two_branch else ("box",))}
    return {
        "backbone": {"_target_": "siammask.models.TimmBackbone", "name": backbone, "out_indices": [0, 1, 2]},
        "neck": {"_target_": "siammask.models.Adjust", "_partial_": True, "out_channels": 16},
        "head": head,
        "refine": {"_target_": "siammask.models.Refine", "_partial_": True} if refine else None,
        "loss": {"score": 1.0, "box": 1.2, "mask": 36.0},
        "optimizer": {"_target_": "torch.optim.SGD", "lr": 0.01, "momentum": 0.9},
        "targets": {"_target_": f"siammask.anchors.{'CentreLabeller' if two_branch else 'AnchorTargetAssigner'}"},
    }


def make_batch(size: int = 2, negative_last: bool = True, search_size: int = 255) -> dict[str, torch.Tensor]:
    """Pairs whose search crop (``search_size`` >= 171) shows a bright rectangle at a known box (the template,
    its copy)."""
    generator = torch.Generator().manual_seed(0)
    template = torch.randint(0, 60, (size, 3, 127, 127), generator=generator, dtype=torch.uint8)
    search = torch.randint(0, 60, (size, 3, search_size, search_size), generator=generator, dtype=torch.uint8)
    template[:, :, 43:84, 33:94] = 220
    boxes = torch.tensor([[100.0, 110.0, 170.0, 150.0]]).repeat(size, 1)
    mask = torch.zeros(size, search_size, search_size, dtype=torch.uint8)
    mask[:, 110:150, 100:170] = 1
    search[:, :, 110:150, 100:170] = 220
    is_negative = torch.zeros(size, dtype=torch.bool)
    if negative_last:
        is_negative[-1] = True
    return {"template": template, "search": search, "search_bbox": boxes, "search_mask": mask,
                "has_mask": ~is_negative, "is_negative": is_negative}


def default_checkpoint(path, search_size: int = 223):
    """A checkpoint of the default architecture (experiment=quick), untrained: what fine-tuning starts from."""
    from pathlib import Path

    import pytorch_lightning as pl
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model.search_size={search_size}"])
    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(instantiate(cfg.model))
    trainer.save_checkpoint(path)
    return path
