"""Network parts; see :func:`build_siammask` for how they fit together, :func:`build_network` for the network
of a Hydra ``model`` config."""

from siammask.models.backbones import Backbone, InputNormalization, TimmBackbone
from siammask.models.box_refine import BoxRefine
from siammask.models.builder import build_network
from siammask.models.neck import Adjust
from siammask.models.network import SearchOutput, SiamMask, build_siammask
from siammask.models.paper_resnet import PaperResNet50
from siammask.models.refine import MaskRefine, Refine
from siammask.models.xcorr import MultiLevelHead, XCorrHead, depthwise_xcorr

__all__ = [
           "Adjust",
           "Backbone",
           "BoxRefine",
           "InputNormalization",
           "MaskRefine",
           "MultiLevelHead",
           "PaperResNet50",
           "Refine",
           "SearchOutput",
           "SiamMask",
           "TimmBackbone",
           "XCorrHead",
           "build_network",
           "build_siammask",
           "depthwise_xcorr",
]
