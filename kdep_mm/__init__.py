"""KDEP for OpenMMLab: distil a pre-trained teacher into a small backbone on
unlabelled images, then use the student in mmdet / mmseg / mmpretrain."""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models, utils  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = [
    '__version__', 'compat', 'datasets', 'engine', 'evaluation', 'models',
    'utils'
]
