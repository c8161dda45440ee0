"""Annotation readers of the official dataset layouts, by the name ``prepare`` takes on its command line."""

from .base import DatasetReader, LayoutError
from .coco import CocoReader
from .custom import CustomReader
from .got10k import Got10kReader
from .imagenet import DetReader, VidReader
from .lasot import LasotReader
from .trackingnet import TrackingNetReader
from .ytb_vos import YoutubeVosReader

READERS: dict[str, type[DatasetReader]] = {
    reader.name: reader for reader in (CocoReader, YoutubeVosReader, VidReader, DetReader, CustomReader,
                                       Got10kReader, LasotReader, TrackingNetReader)
}

__all__ = ["READERS", "DatasetReader", "LayoutError"]
