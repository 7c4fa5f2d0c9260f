"""Where a backbone's pre-activation feature *maps* are, and how a teacher
map is brought to the student's grid (the dense targets of
:class:`~kdep_mm.models.DenseKDEP`).

Dense targets are matched by stride (a detector's FPN reads C2-C5 at
strides 4-32). The candidates of a built-in family, shallow to deep, are
the last pre-activation point of each stage:

* ``ResNet`` family (``res_layers``): the input of each stage's last
  block's final ReLU (``out + identity``), as the pooled tap;
* ``MobileNetV2``: each ``layer<i>`` output (its blocks end in a linear
  1x1 projection, so a block's output is pre-activation) and
  ``conv2.bn`` (the pooled tap's point, stride 32);
* ``ConvNeXt``: each ``stages.<i>`` output (a residual sum, no activation);
* ``SwinTransformer``: the normalised tokens of each stage in its
  ``out_indices`` (``norm<i>``, what its feature maps are made of), as a
  square map (set ``out_indices=(0, 1, 2, 3)`` for all four strides);
* ``TIMMBackbone`` (any timm model): see :mod:`.timm_taps`;
* ``VisionTransformer``: the final token grid (after ``ln1`` when the model
  has a final norm), its class/extra tokens dropped and reshaped to
  ``(B, C, h, w)``; one candidate at the patch stride.

Which candidate serves a stride is found by a dry run
(:func:`measure_strides`), so dilated backbones (mmseg's ResNetV1c with
strides (1, 2, 1, 1)) get the right one: the *deepest* candidate at that
stride. Any other backbone names its module (``pool='map'``).
"""
import math
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .taps import FeatureTap


def map_tap_candidates(network: nn.Module) -> Optional[List[dict]]:
    """The built-in map taps of ``network`` (shallow to deep), or None."""
    name = type(network).__name__
    if name == 'TIMMBackbone':
        from .timm_taps import timm_map_candidates
        return timm_map_candidates(network)
    if hasattr(network, 'res_layers'):
        return [
            dict(
                module=f'{stage}.{len(getattr(network, stage)) - 1}.relu',
                hook='input',
                call=-1,
                pool='map') for stage in network.res_layers
        ]
    if name == 'MobileNetV2':
        layers = [n for n in network.layers if n != 'conv2']
        return [dict(module=n, hook='output', pool='map') for n in layers] + \
            [dict(module='conv2.bn', hook='output', pool='map')]
    if name == 'ConvNeXt':
        return [
            dict(module=f'stages.{i}', hook='output', pool='map')
            for i in range(len(network.stages))
        ]
    if name == 'SwinTransformer':  # normalised stage tokens, as maps
        return [
            dict(module=f'norm{i}', hook='output', pool='map')
            for i in sorted(getattr(network, 'out_indices', ()))
            if hasattr(network, f'norm{i}')
        ]
    if name == 'VisionTransformer':
        final = 'ln1' if getattr(network, 'final_norm', False) else \
            f'layers.{len(network.layers) - 1}'
        return [
            dict(
                module=final,
                hook='output',
                pool='map',
                skip_tokens=int(getattr(network, 'num_extra_tokens', 0)))
        ]
    return None


@torch.no_grad()
def measure_strides(network: nn.Module, taps: List[FeatureTap],
                    size: int) -> List[Dict]:
    """One dry run at ``size`` px: each tap's channels and stride.

    Returns:
        list[dict]: ``dict(channels, stride, grid)`` per tap, in order.
    """
    for tap in taps:
        tap.reset()
    was_training = network.training
    network.eval()
    try:
        x = torch.zeros(1, 3, size, size)
        param = next(network.parameters(), None)
        if param is not None:
            x = x.to(param.device)
        if hasattr(network, 'backbone') and hasattr(network, 'head'):
            network(x, mode='tensor')  # a whole classifier
        else:
            network(x)
    finally:
        network.train(was_training)
    out = []
    for tap in taps:
        m = tap.pop()
        out.append(
            dict(
                channels=m.shape[1],
                stride=size // m.shape[-1],
                grid=tuple(m.shape[-2:])))
    return out


def pick_by_stride(found: List[Dict], stride: int,
                   exact: bool) -> Optional[int]:
    """Index of the deepest candidate at ``stride``; if none and not
    ``exact``, the one nearest in log-stride (the deeper of a tie)."""
    same = [i for i, f in enumerate(found) if f['stride'] == stride]
    if same:
        return same[-1]
    if exact or not found:
        return None
    dist = [abs(math.log2(f['stride'] / stride)) for f in found]
    best = min(dist)
    return [i for i, d in enumerate(dist) if d == best][-1]


def resample_map(teacher: torch.Tensor, size) -> torch.Tensor:
    """The teacher map on the student's grid ``size`` = (h, w).

    Equal grids: unchanged. A finer teacher grid is area-averaged (each
    student location gets the mean of the teacher locations it covers,
    exactly for integer ratios); a coarser one is bilinearly upsampled
    (``align_corners=False``). Both are linear, so resampling before the
    PCA projection equals resampling after it; it is done before PTS,
    which is not linear.
    """
    size = tuple(size)
    if tuple(teacher.shape[-2:]) == size:
        return teacher
    if teacher.shape[-2] >= size[0] and teacher.shape[-1] >= size[1]:
        return F.interpolate(teacher, size=size, mode='area')
    return F.interpolate(
        teacher, size=size, mode='bilinear', align_corners=False)


def map_rows(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B * H * W, C): one row per location."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
