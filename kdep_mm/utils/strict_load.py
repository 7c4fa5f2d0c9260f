"""All-or-nothing loading of a state dict into a module: any missing,
unexpected or shape-mismatched key is an error that lists them, never a
silent partial load (re-exported by :mod:`.checkpoint`)."""
from typing import Dict, Iterable, Tuple

import torch
import torch.nn as nn


class CheckpointMismatchError(RuntimeError):
    """A state dict does not match the module it is loaded into."""


def compare_state_dict(
        module: nn.Module,
        state: Dict[str, torch.Tensor]) -> Tuple[list, list, list]:
    """Missing keys, unexpected keys and ``(key, expected, got)`` shapes."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [(k, tuple(own[k].shape), tuple(state[k].shape)) for k in own
                  if k in state and own[k].shape != state[k].shape]
    return missing, unexpected, mismatched


def _fmt(keys: Iterable, limit: int = 20) -> str:
    keys = list(keys)
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(map(str, keys[:limit])) + more


def load_state_dict_strict(
    module: nn.Module,
    state: Dict[str, torch.Tensor],
    source: str = 'checkpoint',
    ignore_missing: Iterable[str] = ()) -> None:
    """Load ``state`` into ``module`` only if every key and shape matches.

    Args:
        module (nn.Module): The module to load into.
        state (dict): The state dict.
        source (str): Named in the error message (e.g. the file).
        ignore_missing (Iterable[str]): Key suffixes that may be absent
            (e.g. ``num_batches_tracked``).

    Raises:
        CheckpointMismatchError: Listing missing, unexpected and
            shape-mismatched keys. Nothing is loaded in that case.
    """
    missing, unexpected, mismatched = compare_state_dict(module, state)
    missing = [
        k for k in missing if not any(k.endswith(s) for s in ignore_missing)
    ]
    if missing or unexpected or mismatched:
        lines = [
            f'{source} does not match {type(module).__name__}; '
            'nothing was loaded.'
        ]
        if missing:
            lines.append(f'  missing keys ({len(missing)}): {_fmt(missing)}')
        if unexpected:
            lines.append(f'  unexpected keys ({len(unexpected)}): '
                         f'{_fmt(unexpected)}')
        if mismatched:
            lines.append('  shape mismatches (key, expected, got): '
                         f'{_fmt(mismatched)}')
        raise CheckpointMismatchError('\n'.join(lines))
    module.load_state_dict(state, strict=False)
