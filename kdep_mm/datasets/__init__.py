"""Data loading that fails loudly (unreadable images, empty datasets) and
the teacher-target cache (replayed crops and their stored targets)."""
from .collate import kdep_collate
from .image_folder import KDEPImageDataset
from .pool import dataset_paths, pool_fingerprint
from .preflight import preflight_images
from .replay_crop import ReplayCachedCrop, bind_cache
from .target_cache import CacheError, TargetCache
from .transforms import LoadImageFromFileSafe, UnreadableImageError

__all__ = [
    'KDEPImageDataset', 'LoadImageFromFileSafe', 'UnreadableImageError',
    'preflight_images', 'ReplayCachedCrop', 'CacheError', 'TargetCache',
    'bind_cache', 'dataset_paths', 'pool_fingerprint', 'kdep_collate'
]
