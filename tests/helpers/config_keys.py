"""The explicit ``--cfg-options`` keys of a resolved config that hold the
student file or SyncBN (mmengine sets exactly the keys it is given, so a
test that swaps the student names every copy)."""
import importlib
from typing import Dict, List

from mmengine.config import Config
from mmengine.registry import DefaultScope


def _paths(obj, prefix: str = ''):
    """``(dotted key, value)`` of every value in a nested dict / list."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return
    for k, v in items:
        yield f'{prefix}{k}', v
        yield from _paths(v, f'{prefix}{k}.')


def student_keys(cfg: Config) -> List[str]:
    """The explicit keys of ``cfg`` that name the student file: the
    ``checkpoint`` of every pretrained ``init_cfg`` in its model."""
    return [
        f'{key}.checkpoint'
        for key, v in _paths(cfg.to_dict()['model'], 'model.')
        if key.split('.')[-1] == 'init_cfg' and isinstance(v, dict)
        and 'Pretrained' in str(v.get('type')) and 'checkpoint' in v
    ]


def sync_bn_keys(cfg: Config) -> List[str]:
    """The explicit keys of ``cfg`` that set SyncBN: the ``type`` of every
    ``norm_cfg`` (of the model or elsewhere) that is ``SyncBN``."""
    return [
        f'{key}.type' for key, v in _paths(cfg.to_dict())
        if key.split('.')[-1] == 'norm_cfg' and isinstance(v, dict)
        and v.get('type') == 'SyncBN'
    ]


def student_options(cfg: Config, checkpoint: str) -> Dict[str, str]:
    """``--cfg-options`` that load ``checkpoint`` as the student and use
    plain BN: every key that holds them, explicitly (mmengine sets exactly
    the keys it is given)."""
    keys = student_keys(cfg)
    assert keys, 'the config loads no student'
    options = {key: checkpoint for key in keys}
    options.update({key: 'BN' for key in sync_bn_keys(cfg)})
    return options


def build_initialised(cfg: Config, scope: str):
    """Build ``cfg.model`` from ``scope``'s registry (mmdet, mmseg,
    mmpretrain) and run its weight initialisation, as the library's Runner
    does: the pretrained files named in the config are loaded."""
    importlib.import_module(f'{scope}.models')
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
        model.init_weights()
    return model
