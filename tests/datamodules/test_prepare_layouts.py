"""Tiny datasets in each official layout, drawn by the test, run through prepare -> LMDB -> source.

Every object is painted in a pure colour (``colour_of(object id)``) on a blue-ish background, so a crop
can be checked on its own: the pixels of that colour must fill the stored box and coincide with the
stored mask. The builders are shared with test_prepare_failures.py and test_lmdb_source.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image
from siammask.datamodules.check_store import check
from siammask.datamodules.lmdb_source import LmdbTrackSource
from siammask.datamodules.lmdb_store import SUMMARY_NAME, read_store
from siammask.datamodules.prepare import prepare, resolve_config

BACKGROUND_RGB = (40, 80, 200)
PALETTE_RGB = [(255, 0, 0), (0, 255, 0), (255, 255, 0), (255, 0, 255), (255, 255, 255)]
COLOUR_TOLERANCE = 70  # max |channel difference| of a pixel of the object's colour after JPEG + resampling
H, W = 120, 160


def colour_of(object_id: int) -> tuple[int, int, int]:
    return PALETTE_RGB[int(object_id) % len(PALETTE_RGB)]


def ellipse_mask(cx: int, cy: int, ax: int, ay: int, hw: tuple[int, int] = (H, W)) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    cv2.ellipse(mask, (cx, cy), (ax, ay), 0, 0, 360, 1, -1)
    return mask


def rect_mask(x0: int, y0: int, x1: int, y1: int, hw: tuple[int, int] = (H, W)) -> np.ndarray:
    """Pixels x0..x1-1, y0..y1-1: the edge box [x0, x1) x [y0, y1)."""
    mask = np.zeros(hw, np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def paint(masks: dict[int, np.ndarray], hw: tuple[int, int] = (H, W)) -> np.ndarray:
    """RGB frame: background, then each object's mask in its colour."""
    image = np.empty((*hw, 3), np.uint8)
    image[:] = BACKGROUND_RGB
    for object_id, mask in masks.items():
        image[mask > 0] = colour_of(object_id)
    return image


def write_jpeg(path: Path, image_rgb: np.ndarray) -> None:
    """High-quality 4:4:4 JPEG, so the colour edges of the source frames stay sharp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 98, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])


def write_palette_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    colours = [(0, 0, 0)] + PALETTE_RGB + [(i, i, i) for i in range(len(PALETTE_RGB) + 1, 256)]
    image.putpalette([c for rgb in colours for c in rgb])  # a full palette: Pillow keeps the indices
    image.save(path)


def moving_masks(frame: int, objects: dict[int, str]) -> dict[int, np.ndarray]:
    """Object id -> mask in ``frame``: ellipses and rectangles that move a few pixels per frame."""
    masks = {}
    for slot, (object_id, shape) in enumerate(objects.items()):
        x, y = 30 + 4 * frame + 60 * slot, 35 + 3 * frame + 20 * slot
        if shape == "ellipse":
            masks[object_id] = ellipse_mask(x, y, 18, 13)
        else:
            masks[object_id] = rect_mask(x - 16, y - 12, x + 17, y + 14)
    return masks


# ---------------------------------------------------------------------------------------- layouts


def build_coco(root: Path, split: str = "train", images: int = 3) -> Path:
    """COCO 2017: a polygon object, an RLE object and a crowd region per image."""
    subset = f"{split}2017"
    entries, annotations = [], []
    for i in range(images):
        polygon = [[20.0 + 5 * i, 20.0, 70.0 + 5 * i, 25.0, 60.0 + 5 * i, 70.0, 25.0 + 5 * i, 60.0]]
        poly_mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygon, H, W)))
        rle_mask = ellipse_mask(115, 70 + 3 * i, 22, 16)
        poly_id, rle_id = 10 * (i + 1) + 0, 10 * (i + 1) + 1  # colour_of: red, green
        image = paint({poly_id: poly_mask, rle_id: rle_mask})
        image[100:115, 5:20] = colour_of(2)  # the crowd region (skipped)
        file_name = f"{i:012d}.jpg"
        write_jpeg(root / subset / file_name, image)
        entries.append({"id": i + 1, "file_name": file_name, "height": H, "width": W})
        x, y, bw, bh = cv2.boundingRect(poly_mask)
        annotations.append({"id": poly_id, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                            "segmentation": polygon, "bbox": [x, y, bw, bh], "area": float(poly_mask.sum())})
        rle = mask_utils.encode(np.asfortranarray(rle_mask))
        rle["counts"] = rle["counts"].decode()
        annotations.append({"id": rle_id, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                            "segmentation": rle, "bbox": list(cv2.boundingRect(rle_mask)),
                            "area": float(rle_mask.sum())})
        crowd = mask_utils.encode(np.asfortranarray(rect_mask(5, 100, 20, 115)))
        crowd["counts"] = crowd["counts"].decode()
        annotations.append({"id": 10 * (i + 1) + 2, "image_id": i + 1, "category_id": 1, "iscrowd": 1,
                            "segmentation": crowd, "bbox": [5, 100, 15, 15], "area": 225.0})
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"instances_{subset}.json").write_text(
        json.dumps({"images": entries, "annotations": annotations,
                    "categories": [{"id": 1, "name": "thing"}]}))
    return root


def build_ytb_vos(root: Path, videos: int = 3, frames: int = 4) -> Path:
    """YouTube-VOS train folder: palette PNGs, object 2 absent from the last frame (as meta.json says)."""
    base = root / "train"
    meta = {"videos": {}}
    for v in range(videos):
        name = f"vid{v:04d}"
        objects: dict[str, dict] = {"1": {"category": "a", "frames": []},
                                    "2": {"category": "b", "frames": []}}
        for f in range(frames):
            stem = f"{5 * f:05d}"
            present = {1: "ellipse", 2: "rect"} if f < frames - 1 else {1: "ellipse"}
            masks = moving_masks(f, present)
            labels = np.zeros((H, W), np.uint8)
            for object_id, mask in masks.items():
                labels[mask > 0] = object_id
                objects[str(object_id)]["frames"].append(stem)
            write_jpeg(base / "JPEGImages" / name / f"{stem}.jpg", paint(masks))
            write_palette_png(base / "Annotations" / name / f"{stem}.png", labels)
        meta["videos"][name] = {"objects": objects}
    (base / "meta.json").write_text(json.dumps(meta))
    return root


def _voc_xml(path: Path, boxes: dict[int, np.ndarray], with_trackid: bool) -> None:
    """Pascal-VOC XML; box = the mask's inclusive first/last pixel indices (ImageNet convention)."""
    annotation = ET.Element("annotation")
    ET.SubElement(annotation, "filename").text = path.stem
    size = ET.SubElement(annotation, "size")
    ET.SubElement(size, "width").text = str(W)
    ET.SubElement(size, "height").text = str(H)
    for object_id, mask in boxes.items():
        obj = ET.SubElement(annotation, "object")
        if with_trackid:
            ET.SubElement(obj, "trackid").text = str(object_id)
        ET.SubElement(obj, "name").text = "n00000000"
        x, y, bw, bh = cv2.boundingRect(mask)
        bndbox = ET.SubElement(obj, "bndbox")
        for key, value in (("xmin", x), ("ymin", y), ("xmax", x + bw - 1), ("ymax", y + bh - 1)):
            ET.SubElement(bndbox, key).text = str(value)
        ET.SubElement(obj, "occluded").text = "0"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(annotation).write(path)


def build_vid(root: Path, split: str = "train", videos: int = 2, frames: int = 4) -> Path:
    """ILSVRC2015 VID: train videos inside a sub-set folder, val videos directly under val/."""
    for v in range(videos):
        subset = "ILSVRC2015_VID_train_0000" if split == "train" else ""
        rel = Path(split) / subset / f"ILSVRC2015_{split}_{v:08d}"
        for f in range(frames):
            masks = moving_masks(f, {0: "rect", 1: "ellipse"})
            write_jpeg(root / "Data" / "VID" / rel / f"{f:06d}.JPEG", paint(masks))
            _voc_xml(root / "Annotations" / "VID" / rel / f"{f:06d}.xml", masks, with_trackid=True)
    return root


def build_det(root: Path, split: str = "train", images: int = 3) -> Path:
    """ILSVRC2015 DET: XML + JPEG per image, in nested sub-set folders."""
    for i in range(images):
        rel = Path(split) / "ILSVRC2013_train" / "n00000000" / f"n00000000_{i:04d}"
        masks = moving_masks(i, {0: "rect", 1: "ellipse"})
        write_jpeg(root / "Data" / "DET" / rel.with_suffix(".JPEG"), paint(masks))
        _voc_xml(root / "Annotations" / "DET" / rel.with_suffix(".xml"), masks, with_trackid=False)
    return root


def build_custom(root: Path, videos: int = 2, frames: int = 4) -> Path:
    """Custom layout: video "masked" with 0/255 masks of object 1 and a box-only object 5 in boxes.txt;
    video "boxed" with boxes.txt only (objects 3 and 4), PNG frames."""
    masked, boxed = root / "masked", root / "boxed"
    (masked / "masks").mkdir(parents=True, exist_ok=True)
    boxed.mkdir(parents=True, exist_ok=True)
    masked_lines, boxed_lines = ["# frame,object_id,x,y,w,h"], ["# frame,object_id,x,y,w,h"]
    for f in range(frames):
        masks = moving_masks(f, {1: "ellipse", 5: "rect"})
        write_jpeg(masked / f"{f:05d}.jpg", paint(masks))
        cv2.imwrite(str(masked / "masks" / f"{f:05d}.png"), masks[1] * 255)
        masked_lines.append(f"{f:05d},5," + ",".join(str(v) for v in cv2.boundingRect(masks[5])))
        masks = moving_masks(f, {3: "rect", 4: "ellipse"})
        cv2.imwrite(str(boxed / f"{f:05d}.png"), cv2.cvtColor(paint(masks), cv2.COLOR_RGB2BGR))
        for object_id, mask in masks.items():
            boxed_lines.append(f"{f:05d},{object_id}," + ",".join(str(v) for v in cv2.boundingRect(mask)))
    (masked / "boxes.txt").write_text("\n".join(masked_lines) + "\n")
    (boxed / "boxes.txt").write_text("\n".join(boxed_lines) + "\n")
    return root


BUILDERS = {"coco": build_coco, "ytb_vos": build_ytb_vos, "vid": build_vid, "det": build_det,
            "custom": build_custom}


def prepared(tmp_path: Path, dataset: str, **settings) -> Path:
    """Build the tiny ``dataset`` under ``tmp_path`` and prepare it; returns the store path."""
    root = BUILDERS[dataset](tmp_path / f"{dataset}_root")
    out = tmp_path / f"{dataset}_lmdb"
    cfg = resolve_config(dataset, {"root": str(root), "out": str(out), "workers": 1, "min_mask_pixels": 0,
                                   "ytb_val_from": 2, **settings})
    prepare(dataset, cfg)
    return out


# ------------------------------------------------------------------------------------ colour checks


def colour_pixels(image_rgb: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """HW bool: pixels within COLOUR_TOLERANCE of ``colour`` on every channel."""
    return np.all(np.abs(image_rgb.astype(np.int16) - np.array(colour, np.int16)) < COLOUR_TOLERANCE, axis=-1)


def assert_object_at(image_rgb: np.ndarray, box_xyxy, mask: np.ndarray | None, colour, what: str,
                     box_tolerance: float = 1.5) -> None:
    """The pixels of ``colour`` fill ``box_xyxy`` (edges within tolerance) and coincide with ``mask``."""
    found = colour_pixels(image_rgb, colour).astype(np.uint8)
    assert found.any(), f"{what}: no pixel of colour {colour}"
    x, y, w, h = cv2.boundingRect(found)
    np.testing.assert_allclose(box_xyxy, [x, y, x + w, y + h], atol=box_tolerance, err_msg=what)
    if mask is None:
        return
    assert mask.shape == found.shape and set(np.unique(mask).tolist()) <= {0, 1}, what
    inter = np.logical_and(mask, found).sum()
    union = np.logical_or(mask, found).sum()
    assert inter / union > 0.93, f"{what}: mask/colour IoU {inter / union:.3f}"
    # away from the (resampled, JPEG-blurred) boundary both agree pixel for pixel
    kernel = np.ones((5, 5), np.uint8)
    assert not np.any(cv2.erode(mask, kernel) & (1 - found)), f"{what}: mask interior not in object colour"
    assert not np.any(cv2.erode(found, kernel) & (1 - mask)), f"{what}: object interior outside the mask"


def assert_store_frames_match(path: Path) -> LmdbTrackSource:
    """Every stored crop shows its object (by colour) where the box and mask say."""
    source = LmdbTrackSource(path)
    for track in range(source.num_tracks()):
        colour = colour_of(int(source.index.track_object[track]))
        for index in range(source.track_length(track)):
            frame = source.frame(track, index)
            assert frame.image.shape == (511, 511, 3) and frame.image.dtype == np.uint8
            assert (frame.mask is not None) == source.has_masks
            assert_object_at(frame.image, frame.box_xyxy, frame.mask, colour,
                             f"{path.name} track {track} frame {index}")
            cx, cy = (frame.box_xyxy[:2] + frame.box_xyxy[2:]) / 2
            np.testing.assert_allclose([cx, cy], [255.5, 255.5], atol=1e-3)  # centred on the object
    return source


# ------------------------------------------------------------------------------------------- tests

EXPECTED = {  # dataset: (videos, tracks, frames per track, has masks)
    "coco": (3, 6, [1] * 6, True),
    "ytb_vos": (2, 4, [4, 3] * 2, True),
    "vid": (2, 4, [4] * 4, False),
    "det": (3, 6, [1] * 6, False),
}


# Settings under which every stored object is one painted colour region: COCO's crowd regions are painted with
# another colour, and YouTube-VOS's release threshold (0.2) grows masks past the colour's edge on purpose (tested
# further down); 0.5 keeps the mask on the colour.
AS_PAINTED = {"coco": {"keep_crowd": False}, "ytb_vos": {"mask_threshold": 0.5}}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_prepare_official_layout_stores_every_object_centred_with_exact_box_and_mask(tmp_path, dataset):
    out = prepared(tmp_path, dataset, **AS_PAINTED.get(dataset, {}))
    source = assert_store_frames_match(out)
    videos, tracks, lengths, has_masks = EXPECTED[dataset]
    assert (source.index.num_videos, source.num_tracks(), source.has_masks) == (videos, tracks, has_masks)
    assert [source.track_length(t) for t in range(source.num_tracks())] == lengths
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["failures"] == []
    assert check(out)["problems"] == []


def test_prepare_coco_without_crowd_counts_crowd_annotations_as_filtered(tmp_path):
    summary = json.loads((prepared(tmp_path, "coco", keep_crowd=False) / SUMMARY_NAME).read_text())
    assert summary["filtered_by_reason"] == {"crowd_annotation": 3}


def test_prepare_coco_keeps_crowd_annotations_as_the_release_does(tmp_path):
    """release data/coco/gen_json.py, par_crop.py: getAnnIds(iscrowd=None), every annotation an object."""
    source = LmdbTrackSource(prepared(tmp_path, "coco"))
    crowd = [t for t in range(source.num_tracks()) if source.index.track_object[t] % 10 == 2]
    assert source.num_tracks() == 9 and len(crowd) == 3
    for track in crowd:  # the 15 x 15 crowd rectangle, centred, its RLE mask stored
        frame = source.frame(track, 0)
        assert_object_at(frame.image, frame.box_xyxy, frame.mask, colour_of(2), f"crowd track {track}")


def test_prepare_ytb_vos_holds_out_the_videos_after_ytb_val_from_as_the_val_split(tmp_path):
    root = build_ytb_vos(tmp_path / "root", videos=3)
    names = {}
    for split in ("train", "val"):
        cfg = resolve_config("ytb_vos", {"root": str(root), "out": str(tmp_path / split), "split": split,
                                         "workers": 1, "ytb_val_from": 2, "min_mask_pixels": 0})
        prepare("ytb_vos", cfg)
        header, index = read_store(tmp_path / split)
        names[split] = list(index.video_names)
        assert header["split"] == split
    assert names == {"train": ["vid0000", "vid0001"], "val": ["vid0002"]}


def test_prepare_ytb_vos_filters_masks_below_min_mask_pixels(tmp_path):
    root = build_ytb_vos(tmp_path / "root", videos=1)
    masks = moving_masks(0, {1: "ellipse", 2: "rect"})
    ellipse, rect = int(masks[1].sum()), int(masks[2].sum())
    assert ellipse < rect
    cfg = resolve_config("ytb_vos", {"root": str(root), "out": str(tmp_path / "out"), "workers": 1,
                                     "min_mask_pixels": ellipse + 1})
    summary = prepare("ytb_vos", cfg)
    assert (summary["tracks"], summary["frames"]) == (1, 3)
    assert summary["filtered_by_reason"] == {"small_mask": 4}


def test_ytb_vos_default_min_mask_pixels_is_the_release_1000():
    assert resolve_config("ytb_vos", {"root": "r", "out": "o"}).min_mask_pixels == 1000
    assert resolve_config("coco", {"root": "r", "out": "o"}).min_mask_pixels == 0


def test_prepare_vid_val_split_reads_the_val_folder(tmp_path):
    root = build_vid(tmp_path / "root", split="val", videos=1)
    cfg = resolve_config("vid", {"root": str(root), "out": str(tmp_path / "out"), "split": "val",
                                 "workers": 1})
    prepare("vid", cfg)
    _, index = read_store(tmp_path / "out")
    assert list(index.video_names) == ["val/ILSVRC2015_val_00000000"]
    np.testing.assert_array_equal(index.frame_number[:4], [0, 1, 2, 3])


def test_prepare_vid_boxes_follow_the_inclusive_pixel_convention(tmp_path):
    _, index = read_store(prepared(tmp_path, "vid"))
    first = moving_masks(0, {0: "rect"})[0]
    x, y, w, h = cv2.boundingRect(first)
    np.testing.assert_allclose(index.frame_image_box_xyxy[0], [x, y, x + w, y + h])


def test_prepare_custom_stores_masked_and_box_only_tracks(tmp_path):
    out = prepared(tmp_path, "custom")
    source = LmdbTrackSource(out)
    assert list(source.index.video_names) == ["boxed", "masked"]
    assert source.has_masks
    by_object = {int(source.index.track_object[t]): t for t in range(source.num_tracks())}
    assert sorted(by_object) == [1, 3, 4, 5]
    for object_id, track in by_object.items():
        for index in range(source.track_length(track)):
            frame = source.frame(track, index)
            assert (frame.mask is not None) == (object_id == 1)
            assert_object_at(frame.image, frame.box_xyxy, frame.mask, colour_of(object_id),
                             f"object {object_id}")


def test_prepare_with_two_workers_stores_the_same_index_as_one(tmp_path):
    root = build_vid(tmp_path / "root", videos=3, frames=3)
    indexes = []
    for workers in (1, 2):
        cfg = resolve_config("vid", {"root": str(root), "out": str(tmp_path / f"w{workers}"),
                                     "workers": workers, "frames_per_chunk": 2})
        prepare("vid", cfg)
        indexes.append(read_store(tmp_path / f"w{workers}")[1])
    one, two = indexes
    np.testing.assert_array_equal(one.video_names, two.video_names)
    np.testing.assert_array_equal(one.track_start, two.track_start)
    np.testing.assert_array_equal(one.frame_number, two.frame_number)
    np.testing.assert_allclose(one.frame_box_xyxy, two.frame_box_xyxy)


# ----- data preparation as the release prepares it (its data/ scripts): mask threshold, VID gaps -----


def test_ytb_vos_default_mask_threshold_is_the_release_0_2_and_coco_keeps_0_5():
    # release data/ytb_vos/par_crop.py: mask > 0.2; data/coco/par_crop.py: mask > 0.5
    assert resolve_config("ytb_vos", {"root": "r", "out": "o"}).mask_threshold == 0.2
    assert resolve_config("coco", {"root": "r", "out": "o"}).mask_threshold == 0.5


def test_a_lower_mask_threshold_keeps_more_of_the_mask_edge_and_nothing_else(tmp_path):
    masks = {}
    for threshold in (0.2, 0.5):
        source = LmdbTrackSource(prepared(tmp_path / str(threshold), "ytb_vos", mask_threshold=threshold))
        masks[threshold] = source.frame(0, 0).mask.astype(bool)
    low, high = masks[0.2], masks[0.5]
    assert not np.any(high & ~low)  # every pixel of the 0.5 mask is in the 0.2 one
    grown = low & ~high
    assert grown.sum() > 0
    # the extra pixels are the edge: each touches the 0.5 mask
    assert not np.any(grown & ~cv2.dilate(high.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool))


VID_PRESENT = [0, 1, 2, 4, 5, 7]  # object 0's annotated frames of 8: runs [0, 1, 2], [4, 5] and the isolated 7


def build_vid_with_gaps(root: Path) -> Path:
    """One VID video of 8 frames: object 0 annotated in VID_PRESENT only, object 1 in every frame."""
    rel = Path("train") / "ILSVRC2015_VID_train_0000" / "ILSVRC2015_train_00000000"
    for f in range(8):
        masks = moving_masks(f, {0: "rect", 1: "ellipse"})
        if f not in VID_PRESENT:
            del masks[0]
        write_jpeg(root / "Data" / "VID" / rel / f"{f:06d}.JPEG", paint(masks))
        _voc_xml(root / "Annotations" / "VID" / rel / f"{f:06d}.xml", masks, with_trackid=True)
    return root


@pytest.mark.parametrize(("track_gaps", "object0_runs"), [
    ("release", [[4, 5]]),  # data/vid/gen_json.py: split at gaps, isolated frames dropped, the last run kept
    ("split", [[0, 1, 2], [4, 5]]),
    ("keep", [VID_PRESENT]),
])
def test_vid_tracks_are_cut_at_gaps_as_track_gaps_says(tmp_path, track_gaps, object0_runs):
    root = build_vid_with_gaps(tmp_path / "root")
    cfg = resolve_config("vid", {"root": str(root), "out": str(tmp_path / "out"), "workers": 1,
                                 "track_gaps": track_gaps})
    prepare("vid", cfg)
    _, index = read_store(tmp_path / "out")
    runs = {0: [], 1: []}
    for t in range(index.num_tracks):
        frames = index.frame_number[index.track_start[t]:index.track_start[t + 1]].tolist()
        runs[int(index.track_object[t])].append(frames)
    assert runs == {0: object0_runs, 1: [list(range(8))]}
    assert_store_frames_match(tmp_path / "out")  # boxes and crops stay with their frames


def test_vid_default_track_gaps_is_the_release_and_still_images_refuse_cutting():
    assert resolve_config("vid", {"root": "r", "out": "o"}).track_gaps == "release"
    assert resolve_config("ytb_vos", {"root": "r", "out": "o"}).track_gaps == "keep"
    with pytest.raises(ValueError, match="one-frame tracks"):
        resolve_config("coco", {"root": "r", "out": "o", "track_gaps": "split"})
    with pytest.raises(ValueError, match="choose one of"):
        resolve_config("vid", {"root": "r", "out": "o", "track_gaps": "sometimes"})
