"""``--cfg-options`` that change nothing are said, not accepted silently.

mmengine applies ``--cfg-options key=value`` to exactly that key. A config
file's top-level *variables* (``data_root = ...``, ``checkpoint = ...``,
``norm_cfg = dict(...)``) were already copied into the dataloaders and the
model when the file was read, and mmengine's Runner reads only its own
top-level keys (:data:`RUN_KEYS`), so overriding a variable, or misspelling
a key (``randomnes.seed=1``), is a silent no-op. :func:`unread_overrides`
finds such keys and the explicit keys that hold the variable's value, and
the tools warn (or, with ``--strict-cfg-options``, stop) before any work.
The same goes for run keys that the Runner ignores as the run is set
(:func:`ignored_run_keys`): ``env_cfg.cudnn_benchmark=True`` under
``randomness.deterministic=True``, ``env_cfg.dist_cfg`` without a
launcher, an ``env_cfg`` key mmengine does not read, ``auto_scale_lr.*``
while ``auto_scale_lr.enable`` is False.
"""
import difflib
from typing import Any, Dict, List, Optional

from .misc import leaves

#: Top-level keys that ``Runner.from_cfg`` and the Runner read, plus the
#: ones the project's tools read (``runner_type``).
RUN_KEYS = frozenset(
    ('model', 'work_dir', 'train_dataloader', 'val_dataloader',
     'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
     'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
     'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
     'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
     'visualizer', 'default_scope', 'randomness', 'experiment_name',
     'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'compile',
     'activation_checkpointing', 'efficient_conv_bn_eval', 'runner_type'))


def _strip_scope(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_scope(v) for k, v in obj.items() if k != '_scope_'}
    return obj


def holders(cfg: Dict, value: Any) -> List[str]:
    """The keys under the run's top-level keys whose value is ``value``
    (a string also matches the paths built under it: ``value + '/...'``;
    numbers and booleans match too much to say anything and are skipped).
    """
    if not isinstance(value, (str, dict, list, tuple)) or not value:
        return []
    found = []
    plain = _strip_scope(value)
    for top in sorted(RUN_KEYS & set(cfg)):
        for key, v in leaves(cfg[top], top):
            if isinstance(value, str):
                if isinstance(
                        v, str) and (v == value
                                     or v.startswith(value.rstrip('/') + '/')):
                    found.append(key)
            elif type(v) is type(value) and _strip_scope(v) == plain:
                found.append(key)
    return found


def _sub_value(obj: Any, dotted: str) -> Any:
    for part in dotted.split('.'):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, (list, tuple)) and part.isdigit() and \
                int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


#: The ``env_cfg`` keys that mmengine 0.10's ``Runner.setup_env`` reads.
ENV_KEYS = ('cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit')


def _open_files_limit() -> Optional[int]:
    try:
        import resource
    except ImportError:  # Windows: mmengine sets no limit either
        return None
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ignored_run_keys(resolved: Dict, options: Dict[str, Any]) -> List[str]:
    """Messages for ``--cfg-options`` keys of ``env_cfg`` and
    ``auto_scale_lr`` that mmengine's Runner ignores as the run is set
    (checked against mmengine 0.10.7's ``Runner.setup_env``,
    ``set_randomness`` and ``scale_lr``)."""

    def value(dotted: str) -> Any:
        return options[dotted] if dotted in options else _sub_value(
            resolved, dotted)

    messages = []
    for dotted, new in options.items():
        name, _, sub = dotted.partition('.')
        head = sub.split('.')[0]
        why = None
        if name == 'env_cfg' and head and head not in ENV_KEYS:
            close = difflib.get_close_matches(head, ENV_KEYS, 1)
            why = ("mmengine's Runner reads only env_cfg." +
                   ', env_cfg.'.join(ENV_KEYS) +
                   (f" (did you mean 'env_cfg.{close[0]}'?)" if close else ''))
        elif name == 'env_cfg' and head == 'cudnn_benchmark' and new and \
                value('randomness.deterministic'):
            why = ('randomness.deterministic=True turns cuDNN benchmarking '
                   'off again right after env_cfg is applied; set '
                   'randomness.deterministic=False too (a resumed run is '
                   'then not guaranteed bit-exact)')
        elif name == 'env_cfg' and head == 'dist_cfg' and value(
                'launcher') in (None, 'none'):
            why = ('the run is not distributed (--launcher none); dist_cfg '
                   'is read only when a launcher starts the processes')
        elif name == 'env_cfg' and head == 'resource_limit' and isinstance(
                new, int) and new <= (_open_files_limit() or -1):
            why = ('mmengine only raises the open-files limit (it is '
                   f'{_open_files_limit()} here), never lowers it')
        elif name == 'auto_scale_lr' and head != 'enable' and not value(
                'auto_scale_lr.enable'):
            why = ('auto_scale_lr.enable is False, so the learning rate is '
                   'not scaled; add --auto-scale-lr (tools/train.py) or '
                   'auto_scale_lr.enable=True')
        if why:
            messages.append(f'--cfg-options {dotted}: this changes nothing: '
                            f'{why}.')
    return messages


def unread_overrides(cfg, options: Dict[str, Any]) -> List[str]:
    """One message per ``--cfg-options`` key that nothing in the run reads.

    Args:
        cfg (Config): The config as read from its file (before the
            overrides are merged).
        options (dict): The ``--cfg-options`` (dotted key -> value).

    Returns:
        list[str]: Messages naming the key, why it changes nothing, and
        the explicit keys to set instead (empty if every key is read, or
        if every key that holds an overridden variable's value is given
        too, as the demo does to keep the variable in step).
    """
    resolved = cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)
    messages = ignored_run_keys(resolved, options or {})
    for dotted in options or {}:
        name, _, sub = dotted.partition('.')
        if name in RUN_KEYS:
            continue
        if name not in resolved:
            close = difflib.get_close_matches(
                name,
                sorted(RUN_KEYS) + sorted(resolved), 1)
            hint = f" Did you mean '{close[0]}'?" if close else ''
            messages.append(
                f"--cfg-options {dotted}: the config has no '{name}' and "
                f'nothing in the run reads it, so this changes nothing.'
                f'{hint}')
            continue
        where = holders(resolved, resolved[name])
        if sub:  # the copies of the variable, and of the value it sets
            where = [f'{k}.{sub}' for k in where]
            where += [
                k for k in holders(resolved, _sub_value(resolved[name], sub))
                if k not in where
            ]
        if where and all(k in options for k in where):
            continue  # every copy is set explicitly too: nothing is lost
        fix = (f" Set the keys that hold its value instead: {', '.join(where)}"
               if where else ' No run key holds its value.')
        messages.append(
            f"--cfg-options {dotted}: '{name}' is a variable of the config "
            'file, already copied where the file used it when it was read; '
            f'nothing in the run reads it, so this changes nothing.{fix}')
    return messages
