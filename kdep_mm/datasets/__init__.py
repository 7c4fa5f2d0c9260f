"""Data loading that fails loudly: unreadable images and empty datasets."""
from .image_folder import KDEPImageDataset
from .preflight import preflight_images
from .transforms import LoadImageFromFileSafe, UnreadableImageError

__all__ = [
    'KDEPImageDataset', 'LoadImageFromFileSafe', 'UnreadableImageError',
    'preflight_images'
]
