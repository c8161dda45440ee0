"""The tracker process the VOT toolkit runs: SiamMask behind the TraX protocol (``vot-trax``).

    .venv/bin/python -m siammask.vot ckpt_path=<model.ckpt> [tracker=vot] [device=cpu]   (or: siammask-vot ...)

The toolkit starts this command (``protocol = trax`` in its ``trackers.ini``), sends the first frame with
one or more objects, then one frame at a time, and reads a region per object back. Objects may be given
as rectangles, polygons (initialised with the area-preserving axis-aligned box, as the release and pysot
do on VOT) or masks; each is answered in the form it was given: a rectangle as the tracked box, a polygon
as the tracker's polygon (``tracker.box_mode``, the rotated box by default), a mask as the tracked mask.
Images arrive as file paths or in memory. Options are ``key=value`` overrides of ``conf/vot.yaml``.

Nothing but TraX messages may go to stdout (the toolkit reads the protocol there), so messages go to stderr.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from omegaconf import DictConfig

from siammask.command import command
from siammask.evaluation.region import init_box_from_polygon
from siammask.geometry import mask_to_box_xyxy, polygon_mask
from siammask.tracking import Tracker, TrackResult, default_checkpoint, load_tracker, read_image_rgb


def _image_rgb(images: dict) -> np.ndarray:
    """The colour channel of a TraX request as HxWx3 uint8 RGB (a file path or an image in memory)."""
    from trax import Image

    image = images["color"]
    if image.type() == Image.PATH:
        return read_image_rgb(image.path())
    array = np.asarray(image.array())
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array  # memory images are RGB


def _targets(objects: Sequence, image_hw: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Region kinds, boxes (T, 4) xyxy and, when every object is a mask, masks (T, H, W) of TraX objects."""
    from trax import Region

    kinds: list[str] = []
    boxes: list[Sequence[float] | np.ndarray] = []
    masks: list[np.ndarray] = []
    for index, (region, _properties) in enumerate(objects):
        kind = region.type
        if kind == Region.RECTANGLE:
            x, y, w, h = region.bounds()
            boxes.append([x, y, x + w, y + h])
        elif kind == Region.POLYGON:
            boxes.append(init_box_from_polygon(np.array(list(region), dtype=np.float64)))
        elif kind == Region.MASK:
            mask = _full_mask(region.array(normalize=True), image_hw)
            if not mask.any():
                raise ValueError(f"object {index}: the initial mask is empty")
            masks.append(mask)
            boxes.append(mask_to_box_xyxy(mask))
        else:
            raise ValueError(f"object {index}: unsupported initial region {kind!r} (rectangle, polygon or mask)")
        kinds.append(kind)
    all_masks = len(masks) == len(kinds)
    return kinds, np.asarray(boxes, dtype=np.float64), np.stack(masks) if all_masks else None


def _full_mask(mask: np.ndarray, image_hw: tuple[int, int]) -> np.ndarray:
    """A TraX mask (anchored at the image's top-left corner, possibly smaller or larger) on the whole image."""
    full = np.zeros(image_hw, dtype=np.uint8)
    h, w = min(mask.shape[0], image_hw[0]), min(mask.shape[1], image_hw[1])
    full[:h, :w] = mask[:h, :w] > 0
    return full


def _region(kind: str, result: TrackResult, image_hw: tuple[int, int]):
    """The reply for one object, in the form its initial region had."""
    from trax import Mask, Polygon, Rectangle, Region

    if kind == Region.RECTANGLE:
        x0, y0, x1, y1 = (float(v) for v in result.box_xyxy)
        return Rectangle.create(x0, y0, x1 - x0, y1 - y0)
    if kind == Region.POLYGON:
        return Polygon.create([(float(x), float(y)) for x, y in np.asarray(result.polygon).reshape(-1, 2)])
    mask = result.mask if result.mask is not None else polygon_mask(result.polygon, image_hw)
    if not np.any(mask):
        return Mask.create(np.zeros((1, 1), dtype=np.uint8))
    x0, y0, x1, y1 = (int(v) for v in mask_to_box_xyxy(mask))
    return Mask.create(np.ascontiguousarray(mask[y0:y1, x0:x1].astype(np.uint8)), x0, y0)


def serve(tracker: Tracker) -> None:
    """Answer TraX requests until the client quits: initialise on ``initialize``, track on ``frame``.

    A failure ends the session with its reason sent to the client and raised here once (trax's own ``with``
    would print the traceback before the caller reports it again)."""
    from trax import Image, Region, Server, TraxException, TraxStatus

    formats = [Region.RECTANGLE, Region.POLYGON, Region.MASK]
    kinds: list[str] = []
    server = None
    try:
        server = Server(formats, [Image.PATH, Image.MEMORY], tracker_name="SiamMask", multiobject=True)
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
                break
            image = _image_rgb(request.image)
            if request.type == TraxStatus.INITIALIZE:
                kinds, boxes, masks = _targets(request.objects, image.shape[:2])
                results = tracker.init(image, boxes, masks)
            elif request.objects:
                raise ValueError("objects sent with a frame (re-initialisation mid-session) are not supported: "
                                 "start a new session with initialize")
            else:
                results = tracker.track(image)
            server.status([(_region(kind, result, image.shape[:2]), {"confidence": f"{result.score:.5f}"})
                           for kind, result in zip(kinds, results)])
    except TraxException as error:  # no client at the other end, or it went away
        _quit(server, error)
        raise ValueError(f"the TraX session failed ({error}): {NOT_BY_HAND}") from error
    except BaseException as error:
        _quit(server, error)
        raise
    server.quit()


def _quit(server: Any, error: BaseException) -> None:
    """End a session on an error, telling the client why (when a session was set up at all)."""
    if server is not None:
        server.quit(reason=str(error) or type(error).__name__)


NOT_BY_HAND = ("siammask.vot is the tracker process the VOT toolkit starts (trackers.ini: protocol = trax, "
               "command = python -m siammask.vot ckpt_path=<ckpt>), speaking TraX on stdin / stdout; "
               "to track a video by hand use track.py (siammask-track); --help lists the options")


def check_trax_client() -> None:
    """Refuse to start a session nobody can answer: the toolkit sets ``TRAX`` (stdin / stdout) or
    ``TRAX_SOCKET``; a terminal on stdin without them is a person, who would only see the protocol's hello."""
    if importlib.util.find_spec("trax") is None:
        raise ValueError("the TraX protocol library is missing: install it with "
                         "`.venv/bin/python -m pip install vot-trax` (it is in the dev extra)")
    if not (os.environ.get("TRAX") or os.environ.get("TRAX_SOCKET")) and sys.stdin.isatty():
        raise ValueError(f"no TraX client: {NOT_BY_HAND}")


@command("vot")
def main(cfg: DictConfig) -> None:
    """``key=value`` overrides of conf/vot.yaml; Hydra writes no run folder and logs to stderr (the config)."""
    check_trax_client()  # before the network loads
    ckpt_path = cfg.ckpt_path or default_checkpoint(cfg.ckpt_runs_dir)
    serve(load_tracker(ckpt_path, cfg.tracker, cfg.device))


if __name__ == "__main__":
    main()
