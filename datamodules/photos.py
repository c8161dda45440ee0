"""Real photographs for the synthetic videos: the sample images scikit-image ships inside its wheel.

The procedural textures (noise, stripes, checkers, spots in two saturated colours) teach a tracker colour
matching that does not transfer to real footage: grey ground, white plastic, skin and cloth, texture at many
scales. Crops of real photographs, used as backgrounds, object textures and clutter, bring that appearance
without any download: every image below is a file inside the installed ``skimage/data`` folder (loaded with
``skimage.data``, which reads those files and fetches nothing for them). Each has a permissive licence, named
here and in docs/datasets.md; images whose licence scikit-image does not state (``moon``, ``page``) are left out.

Grey images are used as grey: a tracker must also follow colourless objects.
"""

from __future__ import annotations

import functools

import numpy as np

# name in skimage.data -> (what it shows, licence as scikit-image's docstring states it)
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("portrait of Eileen Collins (NASA)", "public domain"),
    "brick": ("brick wall (CC0Textures Bricks25)", "CC0"),
    "camera": ("man with a camera on a tripod (Lav Varshney)", "CC0"),
    "chelsea": ("Chelsea the cat (Stefan van der Walt)", "CC0"),
    "clock": ("wall clock, camera motion blur (Stefan van der Walt)", "public domain"),
    "coffee": ("coffee cup on wood (Rachel Michetti)", "CC0"),
    "coins": ("Greek coins from Pompeii (Brooklyn Museum)", "no known copyright restrictions"),
    "grass": ("grass (DeviantArt linolafett)", "CC0"),
    "gravel": ("gravel (CC0Textures Gravel04)", "CC0"),
    "hubble_deep_field": ("Hubble eXtreme Deep Field (NASA)", "public domain"),
    "rocket": ("Falcon 9 launch (SpaceX)", "public domain"),
}


@functools.cache
def load_photos() -> tuple[np.ndarray, ...]:
    """Every photo of :data:`PHOTOS` as an (H, W, 3) uint8 RGB array, read once per process (~4 MB in all)."""
    try:
        import skimage.data
    except ImportError as error:  # a dependency of the package; only a broken install lacks it
        raise ImportError("the synthetic videos' photo textures need scikit-image (`pip install scikit-image`), "
                          "a dependency of this package; or set photo_textures=0") from error
    photos = []
    for name in PHOTOS:
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[..., :3], dtype=np.uint8))
    return tuple(photos)
