"""Turn the official release's weights (foolwood/SiamMask: SiamMask_DAVIS.pth, SiamMask_VOT.pth, ...) into a
checkpoint of this project, for eval.py / track.py (``ckpt_path=``) on the paper's ResNet-50 network.

    python scripts/convert_release.py SiamMask_DAVIS.pth checkpoints/siammask_davis.ckpt
    python eval.py benchmark=davis2016 benchmark.root=/data/DAVIS ckpt_path=checkpoints/siammask_davis.ckpt

Files with ``refine_model`` weights build experiment=siammask_sharp's network, the others siammask_base's;
further Hydra overrides of the model may follow (e.g. ``model.head.mask.out_size=63``). For fine-tuning,
``python train.py model.init_from=SiamMask_DAVIS.pth`` reads the release names directly.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from hydra import compose, initialize_config_dir

from siammask.checkpoints import read_state_dict
from siammask.config import register_resolvers
from siammask.lit.checkpoint import convert_weights

CONF = Path(__file__).resolve().parents[1] / "conf"


def release_model_config(names: Iterable[str], overrides: list[str]):
    """The ``model`` config of the release network whose tensor ``names`` a file holds: sharp (refine) or base."""
    sharp = any(name.removeprefix("module.").startswith("refine_model.") for name in names)
    register_resolvers()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={'siammask_sharp' if sharp else 'siammask_base'}",
                                          "model.init_from=null", "model.train_only=null",
                                          "model.backbone.checkpoint_path=null", *overrides])  # all weights: the file
    return cfg.model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="release .pth file")
    parser.add_argument("out", type=Path, help="checkpoint to write")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the model config")
    args = parser.parse_args()
    state = read_state_dict(args.weights)  # read once: it picks the network and fills it
    out = convert_weights(release_model_config(state, args.overrides), state, args.weights, args.out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
