"""Taps: where a network's distilled features are read, in one place.

* :mod:`.feature_tap` -- :class:`FeatureTap`, one point read with a hook;
* :mod:`.registry` -- each backbone family's pooled point and map
  candidates (mmpretrain families, and timm models through
  ``TIMMBackbone``: :mod:`.timm`), :func:`resolve_backbone`;
* :mod:`.dry_run` -- the one dry run that measures widths, strides and
  grids (and warns about a non-negative, post-activation point);
* :mod:`.map_tap` -- a network's map at a stride, chosen and measured;
* :mod:`.resample` -- a teacher map on the student's grid.
"""
from .dry_run import measure_strides, pick_by_stride, warn_post_activation
from .feature_tap import FeatureTap, build_tap
from .map_tap import log_resampled, map_tap, scaled
from .registry import (FAMILIES, default_tap_cfg, family_of,
                       map_tap_candidates, pooled_tap_cfg, resolve_backbone)
from .resample import map_rows, resample_map

__all__ = [
    'FeatureTap', 'build_tap', 'FAMILIES', 'default_tap_cfg', 'family_of',
    'map_tap_candidates', 'pooled_tap_cfg', 'resolve_backbone',
    'measure_strides', 'pick_by_stride', 'warn_post_activation', 'map_rows',
    'resample_map', 'map_tap', 'scaled', 'log_resampled'
]
