"""The registry's timm entry: any timm model wrapped in mmpretrain's
``TIMMBackbone``.

``TIMMBackbone`` removes the timm model's classifier *and its head pooling*
(``reset_classifier(0, '')``), so its output is a CNN's last map (after any
per-pixel head layers) or a ViT's normalised tokens. The points:

* **CNNs** (ResNet / ResNeXt / RegNet, EfficientNet / MobileNet,
  ...): the *pre-activation* point, found by a dry run: where a tensor the
  model hands on (its output, a ``feature_info`` stage output) was made by
  an activation module (a block's final ReLU after the residual sum, a
  ``BatchNormAct2d``'s act), the tap reads that activation's input. The
  pooled tap averages it (for MobileNetV3, whose 1x1 ``conv_head`` runs
  after the pooling in timm, the average of ``conv_head`` per pixel is
  ``conv_head`` of the average: the same point, before ``act2``).
* **ConvNeXt-style heads** (``NormMlpClassifierHead``: pool, then
  ``head.norm``): the stage map averaged, then ``head.norm`` and
  ``head.pre_logits`` applied (the tensor the classifier reads); maps:
  the stage outputs (residual sums, no activation).
* **ViTs**: the class token of the final state; with ``fc_norm`` (mean
  pooling) the patch-token mean after ``fc_norm``; without a class token
  the patch-token mean (registers skipped); a head that already pools
  (distilled DeiT: (class + distillation) / 2) its output. Maps: each
  block's patch tokens.

Not served, because ``TIMMBackbone``'s reset erases what would tell them
apart (its ``global_pool`` becomes '' and ``attn_pool`` is deleted): a ViT
with a class token that was mean-pooled *without* ``fc_norm`` (tapped at
its class token), and attention pooling (SigLIP: tapped at the patch-token
mean). Name the point for those, e.g. ``teacher_tap=dict(module=
'timm_model.norm', pool='avg', skip_tokens=1)``.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from .dry_run import dry_batch, is_activation


def _timm(net: nn.Module) -> nn.Module:
    return net.timm_model


def _is_vit(m: nn.Module) -> bool:
    return hasattr(m, 'blocks') and hasattr(m, 'num_prefix_tokens') and \
        hasattr(m, 'patch_embed')


def _norm_mlp_head(m: nn.Module) -> bool:
    head = getattr(m, 'head', None)
    return all(hasattr(head, a) for a in ('norm', 'global_pool', 'pre_logits'))


@torch.no_grad()
def producers(m: nn.Module, names: List[str]) -> Dict[str, Optional[str]]:
    """For each module in ``names`` ('' = the model), the activation module
    whose output *is* its output (one dry run at 64 px), or None."""
    acts, outs, handles = [], {}, []
    for name, mod in m.named_modules():
        if is_activation(mod):
            handles.append(
                mod.register_forward_hook(
                    lambda _m, _a, o, n=name: acts.append((n, o))))
    for name in names:
        handles.append(
            m.get_submodule(name).register_forward_hook(
                lambda _m, _a, o, n=name: outs.__setitem__(n, o)))
    was_training = m.training
    m.eval()
    try:
        m(dry_batch(64, next(m.parameters()).device))
    finally:
        m.train(was_training)
        for h in handles:
            h.remove()
    found = {}
    for name in names:
        out = outs.get(name)
        match = [
            n for n, o in acts if torch.is_tensor(out) and o is out and (
                not name or n.startswith(name + '.') or n == name)
        ]
        found[name] = match[-1] if match else None
    return found


def _pre_act(point: Optional[str], module: str, pool: str) -> dict:
    if point is not None:
        return dict(module=f'timm_model.{point}', hook='input', pool=pool)
    return dict(
        module=f'timm_model.{module}' if module else '',
        hook='output',
        pool=pool)


def timm_pooled(net: nn.Module) -> Optional[dict]:
    """The pooled tap of a ``TIMMBackbone`` (see the module docstring)."""
    m = _timm(net)
    if _is_vit(m):
        prefix = int(m.num_prefix_tokens)
        if type(m).__name__ == 'VisionTransformerDistilled':
            return dict(module='', hook='output', call=-1, pool='none')
        fc_norm = getattr(m, 'fc_norm', None)
        if fc_norm is not None and not isinstance(fc_norm, nn.Identity):
            return dict(
                module='timm_model.norm',
                hook='output',
                call=-1,
                pool='avg',
                skip_tokens=prefix,
                post=('timm_model.fc_norm', ))
        token = getattr(m, 'cls_token', None) is not None
        return dict(
            module='',
            hook='output',
            call=-1,
            pool='token0' if token else 'avg',
            skip_tokens=0 if token else prefix)
    if _norm_mlp_head(m):
        return dict(
            module='timm_model.head',
            hook='input',
            call=-1,
            pool='avg',
            post=('timm_model.head.norm', 'timm_model.head.pre_logits'))
    return dict(_pre_act(producers(m, [''])[''], '', 'avg'), call=-1)


def timm_maps(net: nn.Module) -> List[dict]:
    """The map taps of a ``TIMMBackbone``, shallow to deep: each
    ``feature_info`` module at its pre-activation point, and the pooled
    tap's point when it is a deeper map (the EfficientNet family's
    ``bn2``)."""
    m = _timm(net)
    info = [f['module'] for f in getattr(m, 'feature_info', [])]
    if _is_vit(m):
        skip = int(m.num_prefix_tokens)
        return [
            dict(
                module=f'timm_model.{n}',
                hook='output',
                pool='map',
                skip_tokens=skip) for n in info
        ]
    found = producers(m, info + [''])
    out = [_pre_act(found[n], n, 'map') for n in info]
    if not _norm_mlp_head(m) and found[''] is not None and \
            f"timm_model.{found['']}" not in [c['module'] for c in out]:
        out.append(_pre_act(found[''], '', 'map'))
    return out
