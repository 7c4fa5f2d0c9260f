"""The one dry run: a forward pass of a fixed random batch that measures
what the taps read (widths, strides, grids) and whether a point is
non-negative (a post-activation point: a student feature that cannot reach
signed targets; the paper's rule is pre-activation).

Which map candidate serves a stride is found here, so dilated backbones
(mmseg's ResNetV1c with strides (1, 2, 1, 1)) get the right one: the
*deepest* candidate at that stride.
"""
import logging
import math
import re
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from .feature_tap import FeatureTap, find_module

#: Activation modules (parameter-free): their input is a pre-activation
#: point, their output a post-activation one.
ACTIVATION = re.compile(r'(ReLU|ReLU6|SiLU|Swish|GELU|Hardswish|HardSwish|'
                        r'Mish|ELU|LeakyReLU|PReLU)$')


def is_activation(module: nn.Module) -> bool:
    return bool(ACTIVATION.search(type(module).__name__))


def post_activation(network: nn.Module, tap: FeatureTap, nonneg: bool) -> bool:
    """Whether a tap reads a post-activation point: an activation's output,
    or a non-negative feature that is not an activation's input (a
    residual sum before its ReLU may be non-negative at initialisation,
    when the branch is zero-initialised)."""
    module = find_module(network, tap.module)
    if is_activation(module):
        return tap.hook == 'output'
    return nonneg


def dry_batch(size: int, device=None) -> torch.Tensor:
    """The dry run's input: 2 images of ``size`` px, standard normal from a
    fixed generator (the global random state is untouched)."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, size, size, generator=gen).to(device)


def run_network(network: nn.Module, x: torch.Tensor):
    """One forward of a backbone, or of a whole classifier's tensor mode."""
    if hasattr(network, 'backbone') and hasattr(network, 'head'):
        return network(x, mode='tensor')
    return network(x)


@torch.no_grad()
def measure_strides(network: nn.Module, taps: List[FeatureTap],
                    size: int) -> List[Dict]:
    """One dry run at ``size`` px (eval mode, :func:`dry_batch`): what each
    tap reads.

    Returns:
        list[dict]: per tap, in order: ``channels``; for a map its
        ``stride`` and ``grid``; ``post_activation``: see
        :func:`post_activation`.
    """
    for tap in taps:
        tap.reset()
    was_training = network.training
    network.eval()
    try:
        param = next(network.parameters(), None)
        run_network(
            network, dry_batch(size, param is not None and param.device
                               or None))
    finally:
        network.train(was_training)
    out = []
    for tap in taps:
        m = tap.pop()
        found = dict(
            channels=m.shape[1],
            post_activation=post_activation(network, tap, bool(m.min() >= 0)))
        if m.dim() == 4:
            found.update(stride=size // m.shape[-1], grid=tuple(m.shape[-2:]))
        out.append(found)
    return out


def warn_post_activation(found: Dict, who: str, tap: FeatureTap) -> None:
    """Say at build that a tap reads a post-activation point."""
    if not found.get('post_activation'):
        return
    from mmengine.logging import print_log
    print_log(
        f'the {who} tap {tap.describe()} reads a post-activation point (an '
        "activation's output, or non-negative on the dry-run batch). " +
        ('A student there cannot reach the negative half of the signed '
         'PTS targets' if who.startswith('student') else
         'A teacher there has lost the sign of its feature') +
        '; tap the pre-activation point (the input of the activation: '
        "dict(module='<path of the activation>', hook='input')).",
        logger='current',
        level=logging.WARNING)


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
