"""SiamMask: fast online object tracking and segmentation from one box (Wang et al., CVPR 2019)."""

__version__ = "0.1.0"
