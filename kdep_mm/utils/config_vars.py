"""Make ``--cfg-options`` override a config's top-level variables.

A config such as::

    checkpoint = 'work_dirs/kdep_r18/student.pth'
    norm_cfg = dict(type='SyncBN', requires_grad=True)
    model = dict(backbone=dict(norm_cfg=norm_cfg,
                               init_cfg=dict(checkpoint=checkpoint)))

is evaluated when it is read: ``model`` holds copies of the values, so
``--cfg-options checkpoint=new.pth`` alone would change the variable but
not the model. :func:`propagate_variables` applies such an override to every
place of the config that holds the variable's old value as well, and, for a
path, to the paths built under it: ``data_root='data/demo'`` used as
``data_root + '/pool'`` moves with ``--cfg-options data_root=/my/data``.
"""
import copy
from typing import Any, Dict

from mmengine.config import Config


def _set_dotted(obj: Any, keys: list, value: Any) -> None:
    for key in keys[:-1]:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    if isinstance(obj, list):
        obj[int(keys[-1])] = value
    else:
        obj[keys[-1]] = value


def _strip_scope(obj: Any) -> Any:
    # scoped configs tag their dicts with `_scope_` where they are read
    if isinstance(obj, dict):
        return {k: _strip_scope(v) for k, v in obj.items() if k != '_scope_'}
    return obj


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and _strip_scope(a) == _strip_scope(b)


def _replace(obj: Any, old: Any, keys: list, value: Any) -> Any:
    """Apply ``keys = value`` to every sub-value of ``obj`` equal to
    ``old`` (the whole value if ``keys`` is empty); a string variable that
    is a path also moves the paths under it (``old + '/...'``)."""
    if (isinstance(old, str) and old and isinstance(obj, str) and not keys
            and isinstance(value, str)
            and obj.startswith(old.rstrip('/') + '/')):
        return value.rstrip('/') + obj[len(old.rstrip('/')):]
    if _same(obj, old):
        if not keys:
            return copy.deepcopy(value)
        try:
            _set_dotted(obj, keys, copy.deepcopy(value))
        except (KeyError, IndexError, ValueError, TypeError):
            pass
        return obj
    if isinstance(obj, dict):
        for k in list(obj.keys()):
            obj[k] = _replace(obj[k], old, keys, value)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _replace(v, old, keys, value)
    elif isinstance(obj, tuple):
        obj = type(obj)(_replace(v, old, keys, value) for v in obj)
    return obj


def propagate_variables(cfg: Config, options: Dict[str, Any]) -> Config:
    """Apply overrides of top-level str/dict variables where they are used.

    For each ``name[.sub.keys]=value`` in ``options`` whose ``name`` is a
    top-level variable holding a string or a dict, every value equal to the
    variable's current value elsewhere in the config gets the same override.
    Call it before ``cfg.merge_from_dict(options)``, which then sets the
    variable itself.

    Args:
        cfg (Config): The config, modified in place.
        options (dict): The ``--cfg-options`` dict.

    Returns:
        Config: ``cfg``.
    """
    for dotted, value in (options or {}).items():
        name, *keys = dotted.split('.')
        if name not in cfg:
            continue
        old = cfg[name]
        old = old.to_dict() if hasattr(old, 'to_dict') else old
        if not isinstance(old,
                          (str, dict)) or (keys and not isinstance(old, dict)):
            continue
        old = copy.deepcopy(old)
        for top in list(cfg.keys()):
            if top == name:
                continue
            val = cfg[top]
            val = val.to_dict() if hasattr(val, 'to_dict') else val
            new = _replace(copy.deepcopy(val), old, keys, value)
            if new != val:
                cfg[top] = new
    return cfg
