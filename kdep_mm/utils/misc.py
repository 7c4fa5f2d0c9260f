"""Small helpers that several parts of kdep_mm need, each defined once."""
import importlib
from typing import Any, Iterator, Tuple

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope

#: ImageNet mean / std in 0-255 RGB, as mmpretrain's configs give them.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP (or other mmengine) wrapper, else itself."""
    return model.module if is_model_wrapper(model) else model


def build_mmpretrain(cfg: dict) -> nn.Module:
    """Build ``cfg`` from mmpretrain's MODELS whatever the current default
    scope (inside an mmdet run, ``type='MobileNetV2'`` would otherwise be
    mmdet's, whose keys differ). ``init_cfg`` is kept.

    A scoped type (``'mmseg.ResNetV1c'``: mmseg's deep-stem ResNet, whose
    keys differ from mmpretrain's) is built from that library, which is
    imported first so that this works in any process.
    """
    import mmpretrain.models  # noqa: F401  (registers the backbones)
    from mmpretrain.registry import MODELS
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    if isinstance(kind, str) and '.' in kind:
        importlib.import_module(kind.split('.', 1)[0] + '.models')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def to_plain(obj):
    """Recursively turn ``obj`` into str/int/float/bool/None/list/dict.

    Tuples become lists; any other object becomes its ``str``. Such values
    are read back by ``torch.load(weights_only=True)`` (which refuses
    mmengine's ``ConfigDict``), so checkpoint and file metadata use them.
    """
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    for base in (bool, int, float, str):  # subclasses (TorchVersion, ...)
        if isinstance(obj, base):
            return base(obj)
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if hasattr(obj, 'item') and getattr(obj, 'ndim', None) == 0:
        return obj.item()  # numpy / torch scalars
    return str(obj)


def leaves(obj: Any, prefix: str = '') -> Iterator[Tuple[str, Any]]:
    """``(dotted key, value)`` of every value below ``obj`` (through dicts,
    lists and tuples; list items by index), keys under ``prefix``."""
    items = obj.items() if isinstance(
        obj, dict) else (enumerate(obj) if isinstance(obj, (list, tuple)) else
                         ())
    for k, v in items:
        key = f'{prefix}.{k}' if prefix else str(k)
        yield key, v
        yield from leaves(v, key)
