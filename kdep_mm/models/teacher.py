"""Building the frozen teacher: any mmpretrain model, loaded strictly.

The teacher is described once, by :func:`build_teacher`'s ``info`` (its
config, checkpoint, prefix and weights fingerprint); :class:`KDEP` adds its
tap and feature width to make :attr:`KDEP.teacher_meta`, which checkpoints,
exported students and basis files all record.
"""
import copy
from typing import Tuple

import torch.nn as nn

from ..utils.checkpoint import (get_state_dict, load_state_dict_strict,
                                load_weights, tensors_digest)
from ..utils.hub import checked_file
from ..utils.misc import build_mmpretrain, to_plain

TEACHER_KEYS = ('model', 'checkpoint', 'prefix', 'sha256')


def weights_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's weights (keys, shapes and values)."""
    return tensors_digest(module.state_dict())[:16]


def _timm_hub_weights(model_cfg: dict) -> bool:
    """A ``TIMMBackbone`` whose weights timm itself loads at build time
    (``pretrained=True``: the model hub, for users who can reach it)."""
    return isinstance(model_cfg, dict) and str(model_cfg.get(
        'type', '')).endswith('TIMMBackbone') and bool(
            model_cfg.get('pretrained'))


def build_teacher(cfg: dict) -> Tuple[nn.Module, dict]:
    """Build the teacher network and load its weights strictly.

    Args:
        cfg (dict): ``model`` (any mmpretrain model config: a backbone or a
            whole classifier), ``checkpoint`` (path or URL; required, except
            for a ``TIMMBackbone`` with ``pretrained=True``, which timm
            loads from its hub; a checkpoint given as well wins),
            ``prefix`` (optional: load only keys under it, e.g.
            ``'backbone.'`` to take a backbone out of a classifier file),
            ``sha256`` (optional: the file's sha256 or a prefix; a
            model-zoo name ``<name>-<hex>.pth`` is checked without it).

    Returns:
        tuple: The frozen network (eval mode, no grad) and its description
        ``dict(model, checkpoint, prefix, fingerprint)``.
    """
    cfg = copy.deepcopy(dict(cfg))
    if 'tap' in cfg:
        raise ValueError(
            'the teacher tap is set next to the student tap now: move '
            "teacher=dict(tap=...) to KDEP(teacher_tap=...)")
    unknown = set(cfg) - set(TEACHER_KEYS)
    if unknown or 'model' not in cfg:
        raise ValueError(
            'teacher must be dict(model=<mmpretrain model config>, '
            f'checkpoint=<path or URL>, prefix=None); got keys {sorted(cfg)}')
    checkpoint = cfg.get('checkpoint')
    hub = _timm_hub_weights(cfg['model'])
    if not checkpoint and not hub:
        raise ValueError('teacher.checkpoint is required: KDEP distils a '
                         'pre-trained teacher, not a random one (or a '
                         "TIMMBackbone with pretrained=True from timm's hub)")
    model_cfg = copy.deepcopy(cfg['model'])
    model_cfg.pop('init_cfg', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg['backbone'].pop('init_cfg', None)
    if checkpoint and hub:  # the local file wins; nothing is downloaded
        model_cfg['pretrained'] = False
    teacher = build_mmpretrain(model_cfg)
    if checkpoint:
        state = get_state_dict(
            load_weights(
                checked_file(checkpoint, cfg.get('sha256'),
                             'model.teacher.checkpoint')),
            prefix=cfg.get('prefix'))
        load_state_dict_strict(
            teacher,
            state,
            source=f'teacher checkpoint {checkpoint}',
            ignore_missing=('num_batches_tracked', ))
    else:
        checkpoint = f"timm hub: {cfg['model']['model_name']}"
    teacher.eval()
    teacher.requires_grad_(False)
    info = dict(
        model=to_plain(cfg['model']),
        checkpoint=checkpoint,
        prefix=cfg.get('prefix'),
        fingerprint=weights_fingerprint(teacher))
    return teacher, info
