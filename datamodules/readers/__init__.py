"""Annotation readers of the official dataset layouts, by the name ``prepare`` takes on its command line."""

from .base import DatasetReader, LayoutError
from .coco import CocoReader
from .custom import CustomReader
from .imagenet import DetReader, VidReader
from .ytb_vos import YoutubeVosReader

READERS: dict[str, type[DatasetReader]] = {
    reader.name: reader for reader in (CocoReader, YoutubeVosReader, VidReader, DetReader, CustomReader)
}

__all__ = ["READERS", "DatasetReader", "LayoutError"]
