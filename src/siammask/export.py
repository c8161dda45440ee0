"""Write the ONNX graphs a tracker runs with backend=onnxruntime(_int8) for a checkpoint (:mod:`siammask.onnx`),
checked against what is already in the folder, int8 calibrated on the frames ``calibration`` names.

    python -m siammask.export ckpt_path=<model.ckpt | release .pth> output_dir=<dir> [precision=int8 calibration=...]
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from siammask.hydra_glue import calibration_frames, project_root, user_errors
from siammask.onnx import MANIFEST, build_graphs


@user_errors
def run(cfg: DictConfig) -> Path:
    ckpt = Path(cfg.ckpt_path).expanduser()
    out_dir = Path(cfg.output_dir).expanduser()
    paths = build_graphs(ckpt, cfg.tracker, out_dir, precision=cfg.precision,
                         calibration=calibration_frames(cfg.calibration))
    print(f"wrote {', '.join(p.name for p in paths.values())} and {MANIFEST} to {out_dir}; track with them: "
          f"track.py ... ckpt_path={ckpt} backend={'onnxruntime_int8' if cfg.precision == 'int8' else 'onnxruntime'} "
          f"onnx_dir={out_dir}", flush=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    """Compose ``conf/export.yaml`` with ``key=value`` overrides (Hydra's compose, as ``siammask.vot``)."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("PROJECT_ROOT", project_root())
    try:
        with initialize_config_module("siammask.conf", version_base="1.3"):
            cfg = compose("export", overrides=list(sys.argv[1:] if argv is None else argv))
    except HydraException as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        raise SystemExit(1) from None
    run(cfg)


if __name__ == "__main__":
    main()
