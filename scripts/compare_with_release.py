"""The release's own tracker vs ours on the same weights: the figures of README "Release-exact tracking".

    .venv/bin/python scripts/compare_with_release.py release_root=/path/to/foolwood/SiamMask [frames=<dir>]

Needs a checkout of the official release (github.com/foolwood/SiamMask; not part of this project, nothing of it
is copied here): its ``Custom`` network and its ``siamese_init`` / ``siamese_track`` run as they are, on a
release-format checkpoint of seeded random weights (BatchNorm statistics non-trivial; each head's last layer
rescaled so that random weights give a sensible, non-exploding track). The same file then goes to our
``track.py`` as ``ckpt_path`` with the ``davis`` and ``vot`` presets, refine on and off, and every frame's
tracked box, mask and rotated box is compared. Prints one line per preset and writes ``<out>/summary.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import torch
from omegaconf import DictConfig

from siammask.command import command

ROOT = Path(__file__).resolve().parents[1]
INIT_BOX_XYWH = (305, 110, 165, 252)  # the tennis player in frame 0
# The release's settings (experiments/siammask_sharp/config_davis.json / config_vot.json, anchors of config.json).
RELEASE_ANCHORS = {"stride": 8, "ratios": [0.33, 0.5, 1, 2, 3], "scales": [8], "round_dight": 0}
RELEASE_HP = {"davis": {"instance_size": 255, "base_size": 8, "out_size": 127, "seg_thr": 0.35, "penalty_k": 0.04,
                        "window_influence": 0.4, "lr": 1.0},
              "vot": {"instance_size": 255, "base_size": 8, "out_size": 127, "seg_thr": 0.30, "penalty_k": 0.04,
                      "window_influence": 0.42, "lr": 0.25}}
HEAD_OUTPUT_STD = {"loc": 0.1, "cls": 1.0, "mask": 2.0, "refine": 2.0}  # spread of each head's outputs


def import_release(release_root: Path) -> types.SimpleNamespace:
    """The release's tracking functions and network, with the shims its 2019 code needs on today's libraries."""
    sys.path[:0] = [str(release_root), str(release_root / "experiments" / "siammask_sharp")]
    np.float, np.int0 = float, np.intp  # removed from numpy since
    cv2.__version__ = "4.0.0"  # the release picks findContours' return arity from the version string
    region = types.ModuleType("utils.pyvotkit.region")  # a Cython extension, used only by its VOT evaluation
    region.vot_overlap = region.vot_float2str = None
    sys.modules["utils.pyvotkit.region"] = region
    argv, sys.argv = sys.argv, sys.argv[:1]  # tools/test.py parses arguments on import
    from custom import Custom
    from tools.test import get_subwindow_tracking, siamese_init, siamese_track
    sys.argv = argv
    return types.SimpleNamespace(Custom=Custom, init=siamese_init, track=siamese_track, crop=get_subwindow_tracking)


def seeded_release_model(release: types.SimpleNamespace, first_frame_bgr: np.ndarray, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = release.Custom(anchors=RELEASE_ANCHORS)
    generator = torch.Generator().manual_seed(seed + 1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(1 + 0.1 * torch.randn(n, generator=generator))
            module.bias.data.copy_(0.1 * torch.randn(n, generator=generator))
    model.eval()
    _calibrate_heads(release, model, first_frame_bgr)
    return model


def _calibrate_heads(release: types.SimpleNamespace, model: torch.nn.Module, image_bgr: np.ndarray) -> None:
    """Random weights give huge activations: rescale each head's last convolution to a sane output spread,
    zero-mean (no drift of boxes), mask logits centred at -1 (masks smaller than the crop)."""
    x, y, w, h = INIT_BOX_XYWH
    centre, size = np.array([x + w / 2, y + h / 2]), np.array([w, h], float)
    state = release.init(image_bgr, centre, size, model, RELEASE_HP["davis"])
    search = release.crop(image_bgr, centre, 255, 833, state["avg_chans"]).unsqueeze(0)
    heads = [(model.rpn_model.loc.head[3], "loc", lambda: model.track_mask(search)[1]),
             (model.rpn_model.cls.head[3], "cls", lambda: model.track_mask(search)[0]),
             (model.mask_model.mask.head[3], "mask", lambda: model.track_mask(search)[2]),
             (model.refine_model.post2, "refine", lambda: (model.track_mask(search), model.track_refine((12, 12)))[1])]
    with torch.no_grad():
        for conv, name, run in heads:
            conv.bias.data.zero_()
            conv.weight.data.mul_(HEAD_OUTPUT_STD[name] / run().std())
            out = run()
            mean = out.mean(dim=(0, 2, 3)) if out.dim() == 4 else out.mean()
            conv.bias.data.sub_(mean if conv.bias.numel() == mean.numel() else mean.mean())
            if name in ("mask", "refine"):
                conv.bias.data.sub_(1.0)


def release_tracks(release: types.SimpleNamespace, model: torch.nn.Module, frames: list[Path], preset: str,
                   refine: bool) -> tuple[np.ndarray, list, np.ndarray]:
    """Boxes (xywh), rotated boxes and masks of the release's own tracker, frame by frame."""
    hp = dict(RELEASE_HP[preset], out_size=127 if refine else 63)
    x, y, w, h = INIT_BOX_XYWH
    boxes, rotated, masks = [list(INIT_BOX_XYWH)], [None], []
    with torch.no_grad():
        state = release.init(cv2.imread(str(frames[0])), np.array([x + w / 2, y + h / 2]), np.array([w, h]), model,
                             hp)
        for path in frames[1:]:
            state = release.track(state, cv2.imread(str(path)), mask_enable=True, refine_enable=refine)
            pos, sz = state["target_pos"], state["target_sz"]
            boxes.append([pos[0] - sz[0] / 2, pos[1] - sz[1] / 2, sz[0], sz[1]])
            rotated.append(np.asarray(state["ploygon"]).tolist())
            masks.append(state["mask"] > state["p"].seg_thr)
    return np.array(boxes), rotated, np.stack(masks)


def our_tracks(ckpt: Path, frames_dir: Path, preset: str, refine: bool, out: Path) -> tuple[np.ndarray, list, Path]:
    subprocess.run([sys.executable, "track.py", f"input={frames_dir}", f"bbox=[{','.join(map(str, INIT_BOX_XYWH))}]",
                    f"ckpt_path={ckpt}", f"tracker={preset}", f"tracker.refine={str(refine).lower()}",
                    f"output_dir={out}", f"hydra.run.dir={out}/hydra", "overlay=false", "progress=false",
                    "fold_batchnorm=false"],  # the release's own layer-by-layer arithmetic, not its folded rounding
                   cwd=ROOT, check=True, capture_output=True)
    records = json.loads((out / "results.json").read_text())
    return np.array([r["bbox_xywh"] for r in records]), [r["rotated_box"] for r in records], out / "masks"


def compare(release: types.SimpleNamespace, model: torch.nn.Module, ckpt: Path, frames_dir: Path, preset: str,
            refine: bool, out: Path) -> dict[str, float]:
    frames = sorted(frames_dir.glob("*.jpg"))
    ref_boxes, ref_rotated, ref_masks = release_tracks(release, model, frames, preset, refine)
    boxes, rotated, masks_dir = our_tracks(ckpt, frames_dir, preset, refine, out)
    box_diff = np.abs(boxes - ref_boxes).max(axis=1)[1:]
    ious, rotated_diff = [], []
    for f in range(1, len(frames)):
        ours = cv2.imread(str(masks_dir / f"{f:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        theirs = ref_masks[f - 1]
        union = (ours | theirs).sum()
        ious.append((ours & theirs).sum() / union if union else 1.0)
        a, b = np.array(rotated[f]), np.array(ref_rotated[f])  # the same corners, maybe from another first one
        rotated_diff.append(min(np.abs(np.roll(a, k, axis=0) - b).max() for k in range(4)))
    return {"box_max_px": float(box_diff.max()), "mask_iou_min": float(np.min(ious)),
            "mask_iou_mean": float(np.mean(ious)), "rotated_box_max_px": float(max(rotated_diff))}


@command("compare_with_release")
def main(cfg: DictConfig) -> None:
    release_root, frames_dir, out = Path(cfg.release_root), Path(cfg.frames), Path(cfg.out)
    if not (release_root / "tools" / "test.py").is_file():
        raise ValueError(f"{release_root} is not a checkout of foolwood/SiamMask (no tools/test.py)")
    release = import_release(release_root.resolve())
    frames = sorted(frames_dir.glob("*.jpg"))
    if not frames:
        raise FileNotFoundError(f"no JPEG frames in {frames_dir}")
    out.mkdir(parents=True, exist_ok=True)
    model = seeded_release_model(release, cv2.imread(str(frames[0])))
    ckpt = out / "release_format.pth"  # as the release saves (DataParallel names, 'state_dict')
    torch.save({"epoch": 20, "state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, ckpt)
    summary = {}
    for preset in ("davis", "vot"):
        for refine in (True, False):
            name = f"{preset}, refine {'on' if refine else 'off'}"
            summary[name] = compare(release, model, ckpt, frames_dir, preset, refine,
                                    out / f"{preset}_{'refine' if refine else 'mask_head'}")
            print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in summary[name].items()), flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
