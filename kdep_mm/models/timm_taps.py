"""Built-in taps of any timm model wrapped in mmpretrain's ``TIMMBackbone``.

``TIMMBackbone`` removes the timm model's classifier *and its head pooling*
(``reset_classifier(0, '')``), so its output is ``forward_features`` after
the head's own layers that keep the shape: a CNN's last map, a ViT's
normalised tokens. The pooled tap re-applies the pooling the model's
pre-logits feature uses (``forward_head(..., pre_logits=True)``): the
spatial mean of a map; the class token, or the mean of the patch tokens
for a ViT without one. Two refinements:

* the EfficientNet / MobileNet family (a ``conv_head`` followed by
  ``bn2``, a ``BatchNormAct2d``): the input of ``bn2.act``, i.e. the last
  1x1 conv's BatchNorm output *before* its activation, pooled: the same
  point as mmpretrain's own EfficientNet (the paper's pre-activation rule);
* models whose head normalises *after* pooling (timm's ConvNeXt ``head.norm``,
  ``fc_norm`` of mean-pooled ViTs) are not covered: the pooled map is not
  their pre-logits feature, so they ask for a named tap.

Feature maps (dense targets): the output of each ``feature_info`` module
(timm's own list of stage outputs, strides measured by the dry run) and,
for the EfficientNet family, the pre-activation ``bn2`` map at stride 32.
Token maps drop ``num_prefix_tokens``.
"""
from typing import List, Optional

import torch.nn as nn


def _timm(network: nn.Module) -> nn.Module:
    return network.timm_model


def _has_pre_act_head(m: nn.Module) -> bool:
    bn = getattr(m, 'bn2', None)
    return hasattr(m, 'conv_head') and isinstance(
        getattr(bn, 'act', None), nn.Module)


def _head_norm_after_pool(m: nn.Module) -> bool:
    head = getattr(m, 'head', None)
    fc_norm = getattr(m, 'fc_norm', None)
    return isinstance(getattr(head, 'norm', None), nn.LayerNorm) or \
        (fc_norm is not None and not isinstance(fc_norm, nn.Identity))


def timm_tap_cfg(network: nn.Module) -> Optional[dict]:
    """The pooled tap of a ``TIMMBackbone`` (see the module docstring), or
    None where the pooled output is not the model's pre-logits feature."""
    m = _timm(network)
    if _has_pre_act_head(m):
        return dict(module='timm_model.bn2.act', hook='input', call=-1)
    if _head_norm_after_pool(m):
        return None
    prefix = int(getattr(m, 'num_prefix_tokens', 0))
    token = prefix > 0 and getattr(m, 'cls_token', None) is not None \
        and getattr(m, 'global_pool', 'token') in ('token', '')
    return dict(
        module='', hook='output', call=-1, pool='token0' if token else 'avg')


def timm_map_candidates(network: nn.Module) -> List[dict]:
    """The map taps of a ``TIMMBackbone``, shallow to deep."""
    m = _timm(network)
    skip = int(getattr(m, 'num_prefix_tokens', 0))
    out = [
        dict(
            module=f"timm_model.{f['module']}",
            hook='output',
            pool='map',
            skip_tokens=skip) for f in getattr(m, 'feature_info', [])
    ]
    if _has_pre_act_head(m):
        out.append(dict(module='timm_model.bn2.act', hook='input', pool='map'))
    return out
