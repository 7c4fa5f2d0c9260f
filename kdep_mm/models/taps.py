"""Feature taps: the pooled feature that KDEP distils, read with hooks.

KDEP distils the global-average-pooled output of the last stage *before its
final activation*. The network itself stays the plain network (downstream
sees the activated output as usual); a tap only records, during the normal
forward pass, the pooled value at one point of it:

* ``ResNet`` family (mmpretrain's ResNet, ResNetV1c, ResNetV1d, ResNeXt;
  BasicBlock and Bottleneck): the input of the last block's final ReLU, that
  is ``out + identity``. The block's ReLU module is shared by all its
  activations and runs in place, so the tap reads the input of its *last*
  call and pools it before the ReLU overwrites it.
* ``MobileNetV2``: the output of the last 1x1 conv's BatchNorm
  (``conv2.bn``), before the in-place ReLU6; ``EfficientNet`` and
  ``MobileNetV3`` likewise (before Swish / HSwish).
* ``ConvNeXt``, ``SwinTransformer``: the last stage's norm, whose output
  feeds the head (pooled). ``VisionTransformer``: the feature its
  ``out_type`` hands the head (class token after the final norm, or the
  normalised mean of patch tokens).
* ``TIMMBackbone`` (any timm model): its pre-logits feature, see
  :mod:`kdep_mm.models.timm_taps`.
* anything else: ``dict(module='path.to.module', hook='input' | 'output',
  call=-1, pool='avg' | 'token0' | 'none')`` names the point.

Pooling happens inside the hook, so no full feature map is kept and an
in-place activation after the tap cannot change the recorded value.
"""
from typing import Optional, Union

import torch
import torch.nn as nn


def _to_map(x: torch.Tensor, skip_tokens: int) -> torch.Tensor:
    """A copy of a (B, C, H, W) map (an in-place activation may follow the
    tap), or ViT tokens (B, skip + h * w, C) as a square (B, C, h, w)."""
    if x.dim() == 4:
        return x.clone()
    if x.dim() != 3:
        raise ValueError(f'pool=map needs a (B, C, H, W) map or (B, N, C) '
                         f'tokens, got shape {tuple(x.shape)}')
    tokens = x[:, skip_tokens:]
    side = int(round(tokens.shape[1]**0.5))
    if side * side != tokens.shape[1]:
        raise ValueError(
            f'pool=map: {tokens.shape[1]} tokens (after skipping '
            f'{skip_tokens}) are not a square grid; dense targets of a '
            'token network need square inputs (or set skip_tokens=)')
    return tokens.transpose(1, 2).reshape(x.shape[0], x.shape[2], side, side)


def _pool(x: torch.Tensor, pool: str, skip_tokens: int = 0) -> torch.Tensor:
    if isinstance(x, (tuple, list)):
        x = x[-1]
    if pool == 'map':
        return _to_map(x, skip_tokens)
    if pool == 'none':
        return x.flatten(1) if x.dim() > 2 else x
    if pool == 'avg':
        if x.dim() == 4:
            return x.mean(dim=(2, 3))
        if x.dim() == 3:  # (B, N, C) tokens
            return x.mean(dim=1)
        return x
    if pool == 'token0':  # e.g. a ViT's class token
        return x[:, 0]
    raise ValueError(f'unknown pool {pool!r}; use avg, token0, map or none')


def _find_module(root: nn.Module, path: str) -> nn.Module:
    if path in ('', '.'):
        return root
    try:
        return root.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in root.named_modules() if n][:40]
        raise ValueError(
            f'tap point {path!r} does not exist in {type(root).__name__}. '
            f'Some module names it has: {names}') from None


class FeatureTap:
    """Records a pooled feature at one module of a network during forward.

    Args:
        module (str): Dotted path of the module inside the tapped network
            (``''`` = the network itself).
        hook (str): 'input' (the module's first input, before it runs) or
            'output'.
        call (int): Which call of the module within one forward pass to
            keep (modules such as ResNet's shared ReLU run several times);
            -1 keeps the last.
        pool (str): 'avg' (global average over space or tokens), 'token0',
            'map' (the whole (B, C, H, W) map; ViT tokens reshaped to one,
            see ``skip_tokens``), or 'none'.
        skip_tokens (int): For ``pool='map'`` on tokens: how many leading
            tokens (class, register) are not part of the patch grid.
    """

    def __init__(self,
                 module: str,
                 hook: str = 'output',
                 call: int = -1,
                 pool: str = 'avg',
                 skip_tokens: int = 0):
        assert hook in ('input', 'output'), hook
        self.module = module
        self.hook = hook
        self.call = call
        self.pool = pool
        self.skip_tokens = skip_tokens
        self._calls = []
        self._handles = []

    def describe(self) -> str:
        """A stable text identity (stored with the basis)."""
        text = (f'{self.module}:{self.hook}[call={self.call}]'
                f':pool={self.pool}')
        return text + (f':skip={self.skip_tokens}' if self.skip_tokens else '')

    def attach(self, network: nn.Module) -> 'FeatureTap':
        """Register the hook on ``network``; returns self."""
        self.remove()
        target = _find_module(network, self.module)
        if self.hook == 'input':
            h = target.register_forward_pre_hook(self._on_input)
        else:
            h = target.register_forward_hook(self._on_output)
        self._handles = [h]
        return self

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _record(self, x) -> None:
        self._calls.append(_pool(x, self.pool, self.skip_tokens))
        if self.call < 0 and self.pool == 'map':
            del self._calls[:self.call]  # maps: keep only what pop() reads

    def _on_input(self, module, args):
        self._record(args[0])

    def _on_output(self, module, args, output):
        self._record(output)

    def reset(self) -> None:
        self._calls = []

    def pop(self) -> torch.Tensor:
        """The feature recorded by the last forward pass (then cleared)."""
        if not self._calls:
            raise RuntimeError(
                f'tap {self.describe()} recorded nothing: the module did not '
                'run in the forward pass (is it the right module?)')
        try:
            feat = self._calls[self.call]
        except IndexError:
            raise RuntimeError(
                f'tap {self.describe()} asked for call {self.call} but the '
                f'module ran {len(self._calls)} time(s)') from None
        self._calls = []
        return feat


def _last_norm(network: nn.Module) -> Optional[str]:
    """``norm<i>`` of the last output stage (ConvNeXt, Swin), if present."""
    indices = getattr(network, 'out_indices', None) or ()
    name = f'norm{max(indices)}' if len(indices) else None
    return name if name and hasattr(network, name) else None


def _vit_tap(network: nn.Module) -> dict:
    """A ViT's head feature, following its own ``out_type``: the normalised
    mean of patch tokens (``avg_featmap``: the output of ``ln2``), else the
    class token of the final (normalised) state, else the token mean."""
    if getattr(network, 'out_type', None) == 'avg_featmap':
        return dict(module='ln2', hook='output', call=-1, pool='none')
    final = 'ln1' if getattr(network, 'final_norm', False) else \
        f'layers.{len(network.layers) - 1}'
    token = getattr(network, 'cls_token', None) is not None
    return dict(
        module=final,
        hook='output',
        call=-1,
        pool='token0' if token else 'avg')


def default_tap_cfg(network: nn.Module) -> Optional[dict]:
    """The built-in tap (the feature that feeds the classification head,
    before its activation) for a known backbone, or None.

    ResNet family (anything with ``res_layers``: mmdet's and mmseg's ResNets,
    ResNeXt, RegNet): the input of the last block's final ReLU, last call.
    MobileNetV2: the output of the last 1x1 conv's BatchNorm. EfficientNet,
    MobileNetV3: the output of the last 1x1 conv's BatchNorm, before its
    Swish / HSwish. ConvNeXt, Swin: the output of the last stage's norm
    (ConvNeXt's normalised pooled feature; Swin's normalised tokens,
    averaged). VisionTransformer: see :func:`_vit_tap`. ``TIMMBackbone``
    (any timm model): see :mod:`.timm_taps`.
    """
    name = type(network).__name__
    if hasattr(network, 'res_layers'):
        stage = network.res_layers[-1]  # module names, e.g. 'layer4'
        last = len(getattr(network, stage)) - 1
        return dict(module=f'{stage}.{last}.relu', hook='input', call=-1)
    if name == 'MobileNetV2':
        return dict(module='conv2.bn', hook='output', call=-1)
    if name == 'EfficientNet':
        return dict(
            module=f'layers.{len(network.layers) - 1}.bn',
            hook='output',
            call=-1)
    if name == 'MobileNetV3':
        return dict(module=f'{network.layers[-1]}.bn', hook='output', call=-1)
    if name in ('ConvNeXt', 'SwinTransformer') and _last_norm(network):
        return dict(module=_last_norm(network), hook='output', call=-1)
    if name == 'VisionTransformer':
        return _vit_tap(network)
    if name == 'TIMMBackbone':
        from .timm_taps import timm_tap_cfg
        return timm_tap_cfg(network)
    return None


def build_tap(network: nn.Module,
              cfg: Union[None, str, dict] = None) -> FeatureTap:
    """Build and attach the tap of ``network``.

    Args:
        network (nn.Module): The tapped network (a backbone, or a whole
            classifier whose backbone is ``network.backbone``).
        cfg (None | str | dict): None for the built-in pre-activation tap
            of known backbones; a module path; or a dict of
            :class:`FeatureTap` arguments.

    Raises:
        ValueError: No built-in tap for this backbone and none configured,
            or the named module does not exist.
    """
    if cfg is None:
        backbone = getattr(network, 'backbone', None)
        if not isinstance(backbone, nn.Module):
            backbone = network
        cfg = default_tap_cfg(backbone)
        if cfg is None:
            raise ValueError(
                f'no built-in pre-activation tap for {type(backbone).__name__}'
                '; name one in the config, e.g. tap=dict(module='
                "'stages.3', hook='output', pool='avg')")
        if backbone is not network:  # the backbone inside a classifier
            cfg['module'] = 'backbone.' + cfg['module']
    elif isinstance(cfg, str):
        cfg = dict(module=cfg)
    cfg = dict(cfg)
    cfg.pop('type', None)
    return FeatureTap(**cfg).attach(network)
