"""Turn the official release's weights (foolwood/SiamMask: SiamMask_DAVIS.pth, SiamMask_VOT.pth, ...) into a
checkpoint of this project, for eval.py / track.py (``ckpt_path=``) on the paper's ResNet-50 network.

    .venv/bin/python scripts/convert_release.py weights=SiamMask_DAVIS.pth out=checkpoints/siammask_davis.ckpt
    .venv/bin/python eval.py benchmark=davis2016 benchmark.root=/data/DAVIS ckpt_path=checkpoints/siammask_davis.ckpt

Files with ``refine_model`` weights build experiment=siammask_sharp's network, the others siammask_base's;
``model_overrides=[...]`` adds Hydra overrides of the model (conf/convert_release.yaml). Conversion is optional: ``ckpt_path=SiamMask_DAVIS.pth`` in
track.py / eval.py and ``model.init_from=SiamMask_DAVIS.pth`` in train.py read the release files directly.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from siammask.checkpoints import (
    convert_weights,
    release_is_sharp,
    release_model_config,
    release_preset,
    weights_format,
)
from siammask.command import command
from siammask.weights import read_weights_file, state_dict_of


@command("convert_release")
def main(cfg: DictConfig) -> None:
    weights = Path(cfg.weights)
    payload = read_weights_file(weights)  # read once: it picks the network and fills it
    fmt = weights_format(payload, weights)
    if fmt not in ("release", "pysot"):
        raise ValueError(f"{weights} is not an official SiamMask weights file (the release's features.*, "
                         f"rpn_model.*, ... or pysot's backbone.*, rpn_head.*, ...)")
    state = state_dict_of(payload, weights)
    sharp = release_is_sharp(state)
    model = release_model_config(sharp, list(cfg.model_overrides))
    out, summary = convert_weights(model, state, weights, Path(cfg.out))
    # the command's product: what was mapped and how to track with it
    print(f"{weights}: {'sharp' if sharp else 'base'} stage (experiment=siammask_{'sharp' if sharp else 'base'}"
          f"'s network), mapped {summary['mapped']}")
    print(f"wrote {out}; track with {release_preset(weights, fmt)}")


if __name__ == "__main__":
    main()
