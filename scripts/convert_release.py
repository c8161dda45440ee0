"""Turn the official release's weights (foolwood/SiamMask: SiamMask_DAVIS.pth, SiamMask_VOT.pth, ...) into a
checkpoint of this project, for eval.py / track.py (``ckpt_path=``) on the paper's ResNet-50 network.

    .venv/bin/python scripts/convert_release.py SiamMask_DAVIS.pth checkpoints/siammask_davis.ckpt
    .venv/bin/python eval.py benchmark=davis2016 benchmark.root=/data/DAVIS ckpt_path=checkpoints/siammask_davis.ckpt

Files with ``refine_model`` weights build experiment=siammask_sharp's network, the others siammask_base's;
further Hydra overrides of the model may follow. Conversion is optional: ``ckpt_path=SiamMask_DAVIS.pth`` in
track.py / eval.py and ``model.init_from=SiamMask_DAVIS.pth`` in train.py read the release files directly.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from siammask.checkpoints import (
    convert_weights,
    read_weights_file,
    release_is_sharp,
    release_model_config,
    release_preset,
    state_dict_of,
    weights_format,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path, help="release .pth file")
    parser.add_argument("out", type=Path, help="checkpoint to write")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the model config")
    args = parser.parse_args()
    payload = read_weights_file(args.weights)  # read once: it picks the network and fills it
    fmt = weights_format(payload, args.weights)
    if fmt not in ("release", "pysot"):
        raise SystemExit(f"{args.weights} is not an official SiamMask weights file (the release's features.*, "
                         f"rpn_model.*, ... or pysot's backbone.*, rpn_head.*, ...)")
    state = state_dict_of(payload, args.weights)
    sharp = release_is_sharp(state)
    out, summary = convert_weights(release_model_config(sharp, args.overrides), state, args.weights, args.out)
    print(f"{args.weights}: {'sharp' if sharp else 'base'} stage (experiment=siammask_{'sharp' if sharp else 'base'}"
          f"'s network), mapped {summary['mapped']}")
    print(f"wrote {out}; track with {release_preset(args.weights, fmt)}")


if __name__ == "__main__":
    main()
