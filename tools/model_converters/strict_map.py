"""Convert weights from other ecosystems into mmpretrain's key layout.

A conversion is a map from *module paths* of the source model to module
paths of the target model; every parameter / buffer name below a module is
kept. The conversion is strict in both directions:

* every source tensor is used exactly once (a tensor that no rule maps, or
  a rule that would write a target key twice, is an error);
* every target key the rules promise is filled (a truncated file is an
  error), and, when the target model's own state dict is given, its keys
  and shapes match exactly.

Errors list the leftovers, so a wrong file (a ResNet instead of a
MobileNetV2, a truncated download) is refused with a message that says
what did not fit, never half converted.
"""
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch

# Parameter / buffer names of each kind of module in the maps below.
CONV_KEYS = ('weight', )
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var',
           'num_batches_tracked')
LINEAR_KEYS = ('weight', 'bias')


class ConversionError(ValueError):
    """A source state dict does not fit the conversion rules."""


def _fmt(keys: Iterable, limit: int = 12) -> str:
    keys = list(keys)
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(map(str, keys[:limit])) + more


def convert_state_dict(
        state: Mapping[str, torch.Tensor],
        rules: Mapping[str, Tuple[str, Tuple[str, ...]]],
        target: Optional[Mapping[str, torch.Tensor]] = None,
        ignore_source: Iterable[str] = (),
        source: str = 'source state dict') -> 'OrderedDict[str, torch.Tensor]':
    """Rename ``state`` by module ``rules``, strictly.

    Args:
        state (Mapping[str, Tensor]): The source state dict.
        rules (Mapping): ``source module -> (target module, tensor names)``,
            e.g. from :func:`mobilenet_v2_module_map`.
        target (Mapping[str, Tensor], optional): The target model's own
            state dict; when given, the converted keys and shapes must
            equal it exactly.
        ignore_source (Iterable[str]): Source module prefixes that are
            deliberately dropped (e.g. ``'classifier.'`` for a backbone-only
            conversion). Everything else must be used.
        source (str): Named in error messages (e.g. the file name).

    Returns:
        OrderedDict: The converted state dict, in the rules' order.

    Raises:
        ConversionError: Listing unused source tensors, target keys written
            twice, target keys not filled, and (with ``target``) unexpected
            keys and shape mismatches. Nothing is returned in that case.
    """
    ignore_source = tuple(ignore_source)
    wanted = OrderedDict()  # target key -> source key
    for src_mod, (dst_mod, names) in rules.items():
        for name in names:
            wanted.setdefault(f'{dst_mod}.{name}',
                              []).append(f'{src_mod}.{name}')
    # Two source tensors written to one target key: a broken rule set.
    twice = [f'{k} <- {_fmt(v)}' for k, v in wanted.items() if len(v) > 1]
    wanted = OrderedDict((k, v[0]) for k, v in wanted.items())
    by_source = {v: k for k, v in wanted.items()}

    out = OrderedDict()
    unused = []
    for key, value in state.items():
        if key in by_source:  # each source key maps to one target key
            out[by_source[key]] = value
        elif not (ignore_source and key.startswith(ignore_source)):
            unused.append(key)
    not_filled = [k for k, s in wanted.items() if s not in state]

    problems = []
    if unused:
        problems.append(f'  source tensors no rule uses ({len(unused)}): '
                        f'{_fmt(unused)}')
    if twice:
        problems.append(f'  keys written more than once ({len(twice)}): '
                        f'{_fmt(twice)}')
    if not_filled:
        problems.append(
            f'  target keys not filled, their source tensors are missing '
            f'({len(not_filled)}): ' + _fmt(f'{k} <- {wanted[k]}'
                                            for k in not_filled))
    if target is not None:
        extra = [k for k in target if k not in wanted]
        beyond = [k for k in wanted if k not in target]
        shapes = [(k, tuple(target[k].shape), tuple(v.shape))
                  for k, v in out.items()
                  if k in target and tuple(target[k].shape) != tuple(v.shape)]
        if extra:
            problems.append(f'  target keys no rule fills ({len(extra)}): '
                            f'{_fmt(extra)}')
        if beyond:
            problems.append(f'  converted keys the target does not have '
                            f'({len(beyond)}): {_fmt(beyond)}')
        if shapes:
            problems.append('  shape mismatches (key, target, source): '
                            f'{_fmt(shapes)}')
    if problems:
        raise ConversionError(
            f'{source} cannot be converted ({len(state)} tensors in, '
            f'{len(wanted)} expected); nothing was written.\n' +
            '\n'.join(problems))
    return out


def state_dict_of(obj: Mapping) -> Dict[str, torch.Tensor]:
    """The tensors of a loaded file: ``state_dict`` / ``model`` or itself."""
    if not isinstance(obj, Mapping):
        raise ConversionError(
            f'expected a state dict (a mapping of names to tensors), got '
            f'{type(obj).__name__}')
    for field in ('state_dict', 'model'):
        if isinstance(obj.get(field), Mapping):
            obj = obj[field]
            break
    not_tensors = [k for k, v in obj.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise ConversionError(
            f'expected a state dict of tensors; these entries are not '
            f'tensors: {_fmt(not_tensors)}')
    return OrderedDict(obj)


def strip_prefix(state: Mapping[str, torch.Tensor],
                 prefix: str) -> 'OrderedDict[str, torch.Tensor]':
    """Keep the keys that start with ``prefix``, without it."""
    return OrderedDict(
        (k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
