"""KDEP for OpenMMLab: distil a pre-trained teacher into a small backbone on
unlabelled images, then use the student in mmdet / mmseg / mmpretrain.

Importing the package registers its modules in the OpenMMLab registries and
changes nothing else (see :mod:`kdep_mm.compat` for the shims the project's
tools apply to their own runs)."""
from . import basis, datasets, engine, evaluation, models, utils
from .version import __version__

__all__ = [
    '__version__', 'basis', 'datasets', 'engine', 'evaluation', 'models',
    'utils'
]
