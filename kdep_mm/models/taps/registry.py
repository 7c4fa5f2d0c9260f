"""The tap registry: where each backbone family's distilled points are.

KDEP distils features *before their final activation* (the paper's rule:
a ReLU output throws away the sign, and a student whose feature is
non-negative cannot reach signed PTS targets). One entry per family gives
both points, for the teacher and the student role alike:

* the **pooled** point: the tensor the family's classifier reads, at its
  pre-activation point, pooled;
* the **map** candidates, shallow to deep: the last pre-activation point
  of each stage (a detector's FPN reads these strides). Which candidate
  serves a stride is measured by the one dry run
  (:func:`~kdep_mm.models.taps.dry_run.measure_strides`).

============  ==========================================  ===================
family        pooled                                      maps
============  ==========================================  ===================
resnet        input of the last block's final ReLU        the same, per stage
              (``out + identity``, last call: the ReLU is
              shared and in place)
mobilenet_v2  ``conv2.bn`` output (before ReLU6)          ``layer<i>``
                                                          outputs (linear
                                                          projections),
                                                          ``conv2.bn``
efficientnet  last 1x1 conv's BN output (before Swish)    each stage's
                                                          output, last BN
mobilenet_v3  last 1x1 conv's BN output (before HSwish)   each block's
                                                          output, last BN
convnext      last stage's norm (the pooled, normalised   ``stages.<i>``
              feature the head reads)                     (residual sums)
swin          last stage's norm, tokens averaged          ``norm<i>`` tokens
vit           what ``out_type`` hands the head            final token grid
timm          :mod:`.timm` (``TIMMBackbone``)             :mod:`.timm`
============  ==========================================  ===================

ResNet covers everything with ``res_layers`` (ResNet, ResNetV1c/V1d,
ResNeXt, mmdet's and mmseg's ResNets); RegNet and Res2Net follow the same
rule. A family not listed, or a point the entry cannot serve, is refused
with the config line to write (``student_tap=dict(module=..., hook=...,
pool=...)``).
"""
from typing import Callable, List, Optional, Tuple

import torch.nn as nn


class Family:
    """One registry entry.

    Args:
        name (str): The family's name (docs and messages).
        match (callable): ``match(backbone) -> bool``.
        pooled (callable): ``pooled(backbone) -> dict | None``: the pooled
            tap's :class:`~.feature_tap.FeatureTap` arguments (None: not
            served; :func:`refusal` says why).
        maps (callable): ``maps(backbone) -> list[dict] | None``: the map
            candidates, shallow to deep.
    """

    def __init__(self, name: str, match: Callable, pooled: Callable,
                 maps: Callable):
        self.name, self.match = name, match
        self.pooled, self.maps = pooled, maps


def _is(cls: str) -> Callable:
    """A match on a class name anywhere in the backbone's MRO (subclasses
    such as ViTEVA02 belong to their parent's family)."""
    return lambda n: any(c.__name__ == cls for c in type(n).__mro__)


def _res_block_relu(net: nn.Module, stage: str) -> dict:
    last = len(getattr(net, stage)) - 1
    return dict(module=f'{stage}.{last}.relu', hook='input', call=-1)


def _last_norm(net: nn.Module) -> Optional[str]:
    """``norm<i>`` of the last output stage (ConvNeXt, Swin), if present."""
    indices = getattr(net, 'out_indices', None) or ()
    name = f'norm{max(indices)}' if len(indices) else None
    return name if name and hasattr(net, name) else None


def _vit_final(net: nn.Module) -> str:
    return 'ln1' if getattr(net, 'final_norm', False) else \
        f'layers.{len(net.layers) - 1}'


def _vit_pooled(net: nn.Module) -> dict:
    """A ViT's head feature, following its own ``out_type``: the normalised
    mean of patch tokens (``avg_featmap``: the output of ``ln2``), else the
    class token of the final (normalised) state, else the token mean."""
    if getattr(net, 'out_type', None) == 'avg_featmap':
        return dict(module='ln2', hook='output', call=-1, pool='none')
    token = getattr(net, 'cls_token', None) is not None
    return dict(
        module=_vit_final(net),
        hook='output',
        call=-1,
        pool='token0' if token else 'avg')


def _stage_outputs(names) -> List[dict]:
    return [dict(module=n, hook='output', pool='map') for n in names]


def _mbv3_last(net: nn.Module) -> str:
    return f'{net.layers[-1]}.bn'


def _effnet_last(net: nn.Module) -> str:
    return f'layers.{len(net.layers) - 1}.bn'


def _as_maps(pooled: dict) -> dict:
    return dict(pooled, pool='map')


def _timm_pooled(net):
    from .timm import timm_pooled
    return timm_pooled(net)


def _timm_maps(net):
    from .timm import timm_maps
    return timm_maps(net)


FAMILIES: List[Family] = [
    Family('timm', _is('TIMMBackbone'), _timm_pooled, _timm_maps),
    Family(
        'resnet', lambda n: hasattr(n, 'res_layers'),
        lambda n: _res_block_relu(n, n.res_layers[-1]), lambda n:
        [_as_maps(_res_block_relu(n, stage)) for stage in n.res_layers]),
    Family(
        'mobilenet_v2', _is('MobileNetV2'),
        lambda n: dict(module='conv2.bn', hook='output', call=-1),
        lambda n: _stage_outputs([x for x in n.layers
                                  if x != 'conv2'] + ['conv2.bn'])),
    Family(
        'efficientnet', _is('EfficientNet'),
        lambda n: dict(module=_effnet_last(n), hook='output', call=-1),
        lambda n: _stage_outputs(
            [f'layers.{i}'
             for i in range(1,
                            len(n.layers) - 1)] + [_effnet_last(n)])),
    Family('mobilenet_v3', _is('MobileNetV3'),
           lambda n: dict(module=_mbv3_last(n), hook='output', call=-1),
           lambda n: _stage_outputs(list(n.layers[1:-1]) + [_mbv3_last(n)])),
    Family(
        'convnext', _is('ConvNeXt'), lambda n: _last_norm(n) and dict(
            module=_last_norm(n), hook='output', call=-1),
        lambda n: _stage_outputs(f'stages.{i}' for i in range(len(n.stages)))),
    Family(
        'swin', _is('SwinTransformer'), lambda n: _last_norm(n) and dict(
            module=_last_norm(n), hook='output', call=-1),
        lambda n: _stage_outputs(f'norm{i}' for i in sorted(
            getattr(n, 'out_indices', ())) if hasattr(n, f'norm{i}'))),
    Family(
        'vit', _is('VisionTransformer'), _vit_pooled, lambda n: [
            dict(
                module=_vit_final(n),
                hook='output',
                pool='map',
                skip_tokens=int(getattr(n, 'num_extra_tokens', 0)))
        ]),
]


def resolve_backbone(network: nn.Module) -> Tuple[nn.Module, str]:
    """The backbone a tap reads and its module prefix in ``network``: a
    whole classifier's ``backbone`` (``'backbone.'``), else the network
    itself (``''``)."""
    backbone = getattr(network, 'backbone', None)
    if isinstance(backbone, nn.Module):
        return backbone, 'backbone.'
    return network, ''


def family_of(backbone: nn.Module) -> Optional[Family]:
    """The registry entry of a backbone, or None."""
    return next((f for f in FAMILIES if f.match(backbone)), None)


def _with_prefix(cfg: dict, prefix: str) -> dict:
    cfg = dict(cfg, module=prefix + cfg['module'])
    if cfg.get('post'):
        cfg['post'] = tuple(prefix + p for p in cfg['post'])
    return cfg


def refusal(backbone: nn.Module, what: str, example: str) -> str:
    """Why a backbone has no built-in ``what`` tap, and the config line."""
    return (f'no built-in {what} tap for {type(backbone).__name__} (not a '
            f"family of the tap registry: {[f.name for f in FAMILIES]}); "
            f'name one in the config, e.g. {example}')


def pooled_tap_cfg(network: nn.Module) -> dict:
    """The built-in pooled tap of ``network`` (a backbone or a classifier),
    module paths relative to ``network``.

    Raises:
        ValueError: The family is not in the registry, or cannot be served
            (the message names the config line to write).
    """
    backbone, prefix = resolve_backbone(network)
    family = family_of(backbone)
    cfg = family.pooled(backbone) if family else None
    if not cfg:
        raise ValueError(
            refusal(
                backbone, 'pre-activation pooled', 'student_tap=dict(module='
                "'stages.3', hook='output', pool='avg') (or teacher_tap=)"))
    return _with_prefix(cfg, prefix)


def map_tap_candidates(network: nn.Module) -> Optional[List[dict]]:
    """The built-in map taps of ``network`` (shallow to deep, module paths
    relative to ``network``), or None."""
    backbone, prefix = resolve_backbone(network)
    family = family_of(backbone)
    cfgs = family.maps(backbone) if family else None
    if not cfgs:
        return None
    return [_with_prefix(c, prefix) for c in cfgs]


def default_tap_cfg(network: nn.Module) -> Optional[dict]:
    """The built-in pooled tap of a backbone, or None (kept for code that
    used the first tap table)."""
    try:
        return pooled_tap_cfg(network)
    except ValueError:
        return None
