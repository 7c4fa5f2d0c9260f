"""A network's feature map at a stride, chosen and measured once: the
built-in candidates of its family (:mod:`.registry`) or a named point,
measured by the dry run (:mod:`.dry_run`) at the network's own scale."""
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger

from .dry_run import measure_strides, pick_by_stride, warn_post_activation
from .feature_tap import FeatureTap
from .registry import map_tap_candidates, resolve_backbone


def map_tap(network: nn.Module,
            cfg: Optional[dict],
            stride: int,
            size: int,
            exact: bool,
            who: str,
            scale: float = 1.0) -> Tuple[FeatureTap, Dict]:
    """The map tap of ``network`` at ``stride`` (built-in unless ``cfg``
    names one), attached, with its measured channels / stride / grid.

    ``scale``: the network sees images ``scale`` times the student's size
    (a teacher at its own resolution); strides are then counted in student
    pixels (a ViT-B/14 at 2x has stride 7)."""
    if cfg is not None:
        cfgs = [dict(dict(pool='map'), **cfg)]
    else:
        cfgs = map_tap_candidates(network)
        if cfgs is None:
            raise ValueError(
                f'no built-in feature maps for '
                f'{type(resolve_backbone(network)[0]).__name__} ({who}); '
                f'name one per stage, e.g. dense=[dict(stride={stride}, '
                f"{who}_tap=dict(module='stages.2', hook='output'))]")
    taps = [FeatureTap(**c).attach(network) for c in cfgs]
    found = measure_strides(network, taps, scaled(size, scale))
    for f in found:
        f['stride'] = size // f['grid'][-1]
    idx = 0 if cfg is not None else pick_by_stride(found, stride, exact)
    for i, tap in enumerate(taps):
        if i != idx:
            tap.remove()
    if idx is None or (exact and found[idx]['stride'] != stride):
        have = sorted({f['stride'] for f in found})
        raise ValueError(
            f'the {who} has no feature map at stride {stride} (at '
            f'{size} px it has strides {have}); choose one of them')
    warn_post_activation(found[idx], who, taps[idx])
    found[idx].pop('post_activation')
    return taps[idx], found[idx]


def scaled(size: int, scale: float) -> int:
    """The side a network at ``scale`` sees for a ``size`` px image."""
    return int(round(size * scale))


def log_resampled(name: str, teacher_stride: int, stride: int,
                  tap: str) -> None:
    if teacher_stride != stride:
        MMLogger.get_current_instance().info(
            f'{name}: the teacher map at stride {teacher_stride} ({tap}) '
            'is resampled to the student grid')
