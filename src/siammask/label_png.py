"""Object-id masks as PNG files, read by one rule set wherever a mask enters: first-frame masks (track.py),
benchmark annotations and saved results (siammask.evaluation), training annotations (siammask.datamodules).

The rules: a palette (``P``) or greyscale (``L``, ``1``, ``I``, ``I;16``) PNG whose pixel value is the object id,
0 the background; a greyscale mask of only 0 and 255 is one object with id 1, so plain binary masks work as they
are. A colour (RGB / RGBA) PNG is refused: its ids would be ambiguous.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

ID_MODES = ("P", "L", "1", "I", "I;16")  # PIL modes whose pixel values are object ids
BINARY_FOREGROUND = 255  # the foreground value of a 0/255 greyscale mask, read as object 1


def read_label_png(path: str | Path) -> tuple[np.ndarray, list[int]]:
    """(H, W) object-id map and the non-zero ids in it, by the module's rules.

    Raises FileNotFoundError for a missing file, ValueError for one that does not decode, a colour image or a
    negative id, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask PNG {str(path)!r} not found")
    try:
        with Image.open(path) as image:
            mode = image.mode
            labels = np.array(image)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
        raise ValueError(f"cannot read mask {str(path)!r}: it does not decode ({error})") from error
    if mode not in ID_MODES:
        raise ValueError(f"mask {str(path)!r} is a {mode} image: masks must be palette or greyscale PNGs of object "
                         f"ids (e.g. convert it with PIL: Image.open(path).convert('L'))")
    if mode == "1":
        labels = labels.astype(np.uint8)
    elif labels.min() < 0:
        raise ValueError(f"mask {str(path)!r} holds a negative object id")
    # bincount is ~10x faster than np.unique on 8/16-bit maps; 32-bit ids could make it allocate gigabytes
    present = np.flatnonzero(np.bincount(labels.ravel())) if labels.dtype.itemsize <= 2 else np.unique(labels)
    ids = [int(i) for i in present if i != 0]
    if mode == "L" and ids == [BINARY_FOREGROUND]:
        return (labels > 0).astype(np.uint8), [1]
    return labels, ids
