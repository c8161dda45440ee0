"""The release's own tracker vs ours on the same weights: the figures of docs/paper.md "Release-exact tracking".

    .venv/bin/python scripts/compare_with_release.py release_root=/path/to/foolwood/SiamMask [frames=<dir>]

Needs a checkout of the official release (github.com/foolwood/SiamMask; not part of this project, nothing of it
is copied here): its ``Custom`` network and its ``siamese_init`` / ``siamese_track`` run as they are, with the
hyper-parameters read from its own JSON configs, on release-format checkpoints of seeded random weights (BatchNorm
statistics non-trivial; each head's last layer rescaled so that random weights give a sensible, non-exploding
track), one per seed of ``seeds``. The same file then goes to our ``track.py`` as ``ckpt_path`` with each preset of
``presets``, refine on and off, and every frame's tracked box, mask and rotated box is compared against
``tolerance``. Prints one line per (seed, preset, refine) and writes ``<out>/summary.json``; exits 1 if any
combination is out of tolerance.

The release pins numpy 1.15 (its requirements.txt), whose value-based casting keeps its candidate arithmetic in
float32; under numpy >= 2 the release's own code widens part of it to float64 (NEP 50), so run this with numpy 1.x
to compare against the release's arithmetic as published (e.g. ``PYTHONPATH=<a numpy 1.26 --target folder>``).
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
# The release's anchors (experiments/siammask_sharp/config.json "anchors").
RELEASE_ANCHORS = {"stride": 8, "ratios": [0.33, 0.5, 1, 2, 3], "scales": [8], "round_dight": 0}
CALIBRATION_CONFIG = "experiments/siammask_sharp/config_davis.json"  # hp of the head calibration (any would do)
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


def release_hp(release_root: Path, config_file: str) -> dict:
    """The ``hp`` block of one of the release's JSON configs (its TrackerConfig defaults fill the rest)."""
    return json.loads((release_root / config_file).read_text()).get("hp", {})


def seeded_release_model(release: types.SimpleNamespace, first_frame_bgr: np.ndarray, hp: dict,
                         seed: int) -> torch.nn.Module:
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
    _calibrate_heads(release, model, first_frame_bgr, hp)
    return model


def _calibrate_heads(release: types.SimpleNamespace, model: torch.nn.Module, image_bgr: np.ndarray,
                     hp: dict) -> None:
    """Random weights give huge activations: rescale each head's last convolution to a sane output spread,
    zero-mean (no drift of boxes), mask logits centred at -1 (masks smaller than the crop)."""
    x, y, w, h = INIT_BOX_XYWH
    centre, size = np.array([x + w / 2, y + h / 2]), np.array([w, h], float)
    state = release.init(image_bgr, centre, size, model, hp)
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


def release_tracks(release: types.SimpleNamespace, model: torch.nn.Module, frames: list[Path], preset_hp: dict,
                   refine: bool) -> tuple[np.ndarray, list, np.ndarray]:
    """Boxes (xywh), rotated boxes and masks of the release's own tracker, frame by frame."""
    hp = dict(preset_hp, out_size=127 if refine else 63)  # the refine module's masks are 127 px, the head's 63
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


def our_tracks(ckpt: Path, frames_dir: Path, num_frames: int, preset: str, refine: bool,
               out: Path) -> tuple[np.ndarray, list, Path]:
    subprocess.run([sys.executable, "track.py", f"input={frames_dir}", f"bbox=[{','.join(map(str, INIT_BOX_XYWH))}]",
                    f"max_frames={num_frames}",
                    f"ckpt_path={ckpt}", f"tracker={preset}", f"tracker.refine={str(refine).lower()}",
                    f"output_dir={out}", f"hydra.run.dir={out}/hydra", "overlay=false", "progress=false",
                    "fold_batchnorm=false"],  # the release's own layer-by-layer arithmetic, not its folded rounding
                   cwd=ROOT, check=True, capture_output=True)
    records = json.loads((out / "results.json").read_text())
    return np.array([r["bbox_xywh"] for r in records]), [r["rotated_box"] for r in records], out / "masks"


def compare(release: types.SimpleNamespace, model: torch.nn.Module, ckpt: Path, frames: list[Path], preset: str,
            preset_hp: dict, refine: bool, out: Path) -> dict[str, float]:
    """Worst per-frame differences over ``frames`` (the first ones of their folder)."""
    ref_boxes, ref_rotated, ref_masks = release_tracks(release, model, frames, preset_hp, refine)
    boxes, rotated, masks_dir = our_tracks(ckpt, frames[0].parent, len(frames), preset, refine, out)
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
            "mask_iou_mean": float(np.mean(ious)), "rotated_box_max_px": float(max(rotated_diff)),
            "box_diff_px": box_diff.tolist(), "mask_iou": [float(v) for v in ious]}


def first_failure(result: dict, box_px: float, mask_iou: float) -> int:
    """The first tracked frame (1-based frame index) out of tolerance, 0 if every frame is within."""
    bad = [f for f, (d, iou) in enumerate(zip(result["box_diff_px"], result["mask_iou"]), start=1)
           if d > box_px or iou < mask_iou]
    return bad[0] if bad else 0


@command("compare_with_release")
def main(cfg: DictConfig) -> None:
    release_root, frames_dir, out = Path(cfg.release_root), Path(cfg.frames), Path(cfg.out)
    if not (release_root / "tools" / "test.py").is_file():
        raise ValueError(f"{release_root} is not a checkout of foolwood/SiamMask (no tools/test.py)")
    release = import_release(release_root.resolve())
    frames = sorted(frames_dir.glob("*.jpg"))[:cfg.max_frames]
    if not frames:
        raise FileNotFoundError(f"no JPEG frames in {frames_dir}")
    out.mkdir(parents=True, exist_ok=True)
    hps = {preset: release_hp(release_root, file) for preset, file in cfg.presets.items()}
    box_px, iou_min = float(cfg.tolerance.box_px), float(cfg.tolerance.mask_iou)
    summary: dict = {"numpy": np.__version__, "frames": len(frames), "tolerance": {"box_px": box_px, "mask_iou": iou_min}, "runs": {}}
    for seed in cfg.seeds:
        model = seeded_release_model(release, cv2.imread(str(frames[0])), release_hp(release_root, CALIBRATION_CONFIG),
                                     int(seed))
        ckpt = out / f"release_format_seed{seed}.pth"  # as the release saves (DataParallel names, 'state_dict')
        torch.save({"epoch": 20, "state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, ckpt)
        for preset, hp in hps.items():
            for refine in cfg.refine:
                name = f"seed {seed}, {preset}, refine {'on' if refine else 'off'}"
                result = compare(release, model, ckpt, frames, preset, hp, refine,
                                 out / f"seed{seed}_{preset}_{'refine' if refine else 'mask_head'}")
                result["first_frame_out_of_tolerance"] = first_failure(result, box_px, iou_min)
                summary["runs"][name] = result
                print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float))
                      + f", first frame out of tolerance {result['first_frame_out_of_tolerance'] or '-'}", flush=True)
    failed = [name for name, r in summary["runs"].items() if r["first_frame_out_of_tolerance"]]
    summary["all_within_tolerance"] = not failed
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{len(summary['runs']) - len(failed)} of {len(summary['runs'])} combinations within {box_px} px and mask "
          f"IoU >= {iou_min} on every frame (numpy {np.__version__}); summary: {out / 'summary.json'}")
    if failed:
        raise SystemExit(1)

if __name__ == "__main__":
    main()
