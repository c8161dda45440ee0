"""Write the ONNX graphs a tracker runs with backend=onnxruntime(_int8) for a checkpoint (:mod:`siammask.onnx`),
checked against what is already in the folder, int8 calibrated on the frames ``calibration`` names.

    python -m siammask.export ckpt_path=<model.ckpt | release .pth> output_dir=<dir> [precision=int8 calibration=...]
    siammask-export ...   (the console command of an installed package)
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from siammask.command import command
from siammask.hydra_glue import calibration_frames
from siammask.onnx import MANIFEST, build_graphs


@command("export")
def main(cfg: DictConfig) -> Path:
    """``key=value`` overrides of conf/export.yaml; no run folder, logs on stderr (the config)."""
    ckpt = Path(cfg.ckpt_path).expanduser()
    out_dir = Path(cfg.output_dir).expanduser()
    paths = build_graphs(ckpt, cfg.tracker, out_dir, precision=cfg.precision,
                         calibration=calibration_frames(cfg.calibration))
    print(f"wrote {', '.join(p.name for p in paths.values())} and {MANIFEST} to {out_dir}; track with them: "
          f"track.py ... ckpt_path={ckpt} backend={'onnxruntime_int8' if cfg.precision == 'int8' else 'onnxruntime'} "
          f"onnx_dir={out_dir}", flush=True)
    return out_dir


if __name__ == "__main__":
    main()
