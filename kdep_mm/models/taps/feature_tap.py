"""A feature tap: one point of a network, read with a hook.

The network stays the plain network (downstream sees the activated output
as usual); a tap only records, during the normal forward pass, the value
at one point of it (where each family's points are:
:mod:`kdep_mm.models.taps.registry`): ``dict(module='path.to.module',
hook='input' | 'output', call=-1, pool='avg' | 'token0' | 'map' | 'none',
skip_tokens=0, post=())``.

Pooling happens inside the hook, so no full feature map is kept and an
in-place activation after the tap cannot change the recorded value.
``post`` names modules applied to the pooled feature, in order, for heads
that normalise *after* pooling (timm's ConvNeXt ``head.norm``, a ViT's
``fc_norm``): the tapped feature is then the tensor the classifier reads.
"""
from typing import Sequence, Union

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
        if x.dim() == 3:  # (B, N, C) tokens, leading class/register ones
            return x[:, skip_tokens:].mean(dim=1)  # skipped
        return x
    if pool == 'token0':  # e.g. a ViT's class token
        return x[:, 0]
    raise ValueError(f'unknown pool {pool!r}; use avg, token0, map or none')


def find_module(root: nn.Module, path: str) -> nn.Module:
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
        skip_tokens (int): For tokens (``pool='map'`` or ``'avg'``): how
            many leading tokens (class, register) are not patch tokens.
        post (Sequence[str]): Modules of the network applied to the pooled
            feature, in order (a ``...2d`` module sees it as (B, C, 1, 1)).
    """

    def __init__(self,
                 module: str,
                 hook: str = 'output',
                 call: int = -1,
                 pool: str = 'avg',
                 skip_tokens: int = 0,
                 post: Sequence[str] = ()):
        assert hook in ('input', 'output'), hook
        self.module = module
        self.hook = hook
        self.call = call
        self.pool = pool
        self.skip_tokens = skip_tokens
        self.post = tuple(post)
        self._post_modules = []
        self._calls = []
        self._handles = []

    def describe(self) -> str:
        """A stable text identity (stored with the basis)."""
        text = (f'{self.module}:{self.hook}[call={self.call}]'
                f':pool={self.pool}')
        text += f':skip={self.skip_tokens}' if self.skip_tokens else ''
        return text + (f":post={'+'.join(self.post)}" if self.post else '')

    def attach(self, network: nn.Module) -> 'FeatureTap':
        """Register the hook on ``network``; returns self."""
        self.remove()
        self._post_modules = [find_module(network, p) for p in self.post]
        target = find_module(network, self.module)
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
        x = _pool(x, self.pool, self.skip_tokens)
        for m in self._post_modules:
            if type(m).__name__.endswith('2d'):
                x = m(x[:, :, None, None]).flatten(1)
            else:
                x = m(x)
        self._calls.append(x)
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


def build_tap(network: nn.Module,
              cfg: Union[None, str, dict] = None) -> FeatureTap:
    """Build and attach the tap of ``network``.

    Args:
        network (nn.Module): The tapped network (a backbone, or a whole
            classifier whose backbone is ``network.backbone``).
        cfg (None | str | dict): None for the built-in pooled tap of the
            backbone's family (:func:`~.registry.pooled_tap_cfg`); a
            module path; or a dict of :class:`FeatureTap` arguments.

    Raises:
        ValueError: No built-in tap for this backbone and none configured
            (the message names the config line to write), or the named
            module does not exist.
    """
    if cfg is None:
        from .registry import pooled_tap_cfg
        cfg = pooled_tap_cfg(network)
    elif isinstance(cfg, str):
        cfg = dict(module=cfg)
    cfg = dict(cfg)
    cfg.pop('type', None)
    return FeatureTap(**cfg).attach(network)
