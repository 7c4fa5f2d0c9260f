"""``StrictPretrained``: load a pretrained backbone all or nothing.

mmengine's ``Pretrained`` initializer loads with ``strict=False`` and only
logs missing or unexpected keys, so a wrong checkpoint silently leaves part
of a backbone randomly initialised. ``StrictPretrained`` is a drop-in
replacement registered in mmengine's root ``WEIGHT_INITIALIZERS`` (hence
usable from mmdet, mmseg and mmpretrain configs)::

    checkpoint = 'work_dirs/kdep_r18/kdep_resnet18_from_resnet50-1a2b3c4d.pth'
    model = dict(backbone=dict(init_cfg=dict(
        type='StrictPretrained', checkpoint=checkpoint)))

It reads the file with ``weights_only=True`` and raises
:class:`~kdep_mm.utils.checkpoint.CheckpointMismatchError`, listing every
missing, unexpected and shape-mismatched key, before anything is loaded.
Both a full KDEP pre-training checkpoint (keys ``backbone.*``) and an
exported backbone file (keys without prefix) are accepted.
"""
from collections import OrderedDict
from typing import Optional, Sequence

from mmengine.logging import print_log
from mmengine.model.weight_init import update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from .checkpoint import (compare_state_dict, get_state_dict,
                         load_state_dict_strict, load_weights)


def _starts(key: str, prefixes: Sequence[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit:
    """Initialise a module from a checkpoint; any mismatch is an error.

    Args:
        checkpoint (str): A local file or URL, read weights-only.
        prefix (str, optional): Take the keys under this prefix (stripped).
            If no key has it, the file is taken as a bare backbone (an
            exported KDEP student). Defaults to ``'backbone.'``.
        include (Sequence[str]): If given, only keys (after the prefix)
            starting with one of these are loaded, e.g. ``('layer4.', )``
            for the C4 detector's shared head. Defaults to ().
        exclude (Sequence[str]): Keys (after the prefix) starting with one
            of these are deliberately not loaded, e.g. ``('layer4.', )`` for
            the C4 backbone whose last stage lives in the RoI head.
            Defaults to ().
        strict (bool): The opt-out: if False, mismatches are logged as
            warnings and the matching tensors are loaded (mmengine's
            ``Pretrained`` behaviour). Defaults to True.
        ignore_missing (Sequence[str]): Key suffixes that may be absent
            (buffers that carry no learned value). Defaults to
            ``('num_batches_tracked', )``.
        map_location (str): Defaults to 'cpu'.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = 'backbone.',
                 include: Sequence[str] = (),
                 exclude: Sequence[str] = (),
                 strict: bool = True,
                 ignore_missing: Sequence[str] = ('num_batches_tracked', ),
                 map_location: str = 'cpu') -> None:
        if not isinstance(checkpoint, str) or not checkpoint:
            raise ValueError('StrictPretrained needs `checkpoint`, the path '
                             f'of the pretrained backbone, got {checkpoint!r}')
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.strict = strict
        self.ignore_missing = tuple(ignore_missing)
        self.map_location = map_location

    def state_dict(self) -> 'OrderedDict':
        """The selected tensors of the checkpoint, keys relative to the
        module."""
        obj = load_weights(self.checkpoint, map_location=self.map_location)
        state = get_state_dict(obj)
        if self.prefix and any(k.startswith(self.prefix) for k in state):
            state = get_state_dict(obj, prefix=self.prefix)
        if self.include:
            state = OrderedDict(
                (k, v) for k, v in state.items() if _starts(k, self.include))
        if self.exclude:
            state = OrderedDict((k, v) for k, v in state.items()
                                if not _starts(k, self.exclude))
        return state

    @staticmethod
    def _protect(module, loaded: set) -> None:
        """Keep submodules whose every tensor was loaded from being
        re-initialised afterwards.

        ``BaseModule.init_weights`` runs a module's ``init_cfg`` first and
        then its children's ``init_weights`` (mmengine defers only its own
        ``'Pretrained'`` type to the end). Children such as mmcv's
        ``ConvModule`` would then overwrite the loaded weights with a
        Kaiming init; they are marked as initialised instead.
        """
        for name, sub in module.named_modules():
            if sub is module or not hasattr(sub, 'init_weights'):
                continue
            keys = [f'{name}.{k}' for k in sub.state_dict()]
            if keys and all(k in loaded for k in keys):
                if hasattr(type(sub), 'is_init'):  # BaseModule's property
                    sub._is_init = True
                else:
                    sub.is_init = True

    def __call__(self, module) -> None:
        state = self.state_dict()
        what = (f'{self.checkpoint}' +
                (f' (prefix {self.prefix!r})' if self.prefix else ''))
        if self.strict:
            load_state_dict_strict(
                module, state, source=what, ignore_missing=self.ignore_missing)
        else:
            missing, unexpected, mismatched = compare_state_dict(module, state)
            bad = {k for k, _, _ in mismatched}
            module.load_state_dict(
                OrderedDict((k, v) for k, v in state.items() if k not in bad),
                strict=False)
            if missing or unexpected or mismatched:
                print_log(
                    f'StrictPretrained(strict=False): loaded {what} with '
                    f'{len(missing)} missing, {len(unexpected)} unexpected '
                    f'and {len(mismatched)} mis-shaped keys: missing '
                    f'{missing}, unexpected {unexpected}, mis-shaped '
                    f'{mismatched}',
                    logger='current',
                    level=30)
        self._protect(module, set(state))
        # Pretrained weights replace the zero-initialised last BN of each
        # residual block: like mmengine's 'Pretrained', stop backbones that
        # zero it after init_cfg (mmpretrain's ResNet) from doing so.
        if getattr(module, 'zero_init_residual', False):
            module.zero_init_residual = False
        print_log(
            f'StrictPretrained: loaded {len(state)} tensors into '
            f'{type(module).__name__} from {what}',
            logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(
                module,
                init_info=f'StrictPretrained: load from {self.checkpoint}')
