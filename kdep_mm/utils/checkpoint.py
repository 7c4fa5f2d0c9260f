"""Strict, weights-only checkpoint loading.

Third-party weights (teachers, pretrained backbones, exported students) are
plain tensors: they are always read with ``weights_only=True``, so a file
that carries pickled code is refused, never executed. Loading into a module
is all or nothing: any missing, unexpected or shape-mismatched key is an
error that lists them, never a silent partial load.
"""
import hashlib
import os.path as osp
import pickle
import zipfile
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch
import torch.nn as nn


class CheckpointMismatchError(RuntimeError):
    """A state dict does not match the module it is loaded into."""


class DamagedFileError(ValueError):
    """A weights file is empty, truncated or otherwise unreadable."""


def load_weights(filename: str, map_location: str = 'cpu') -> dict:
    """Read a checkpoint file or URL with ``weights_only=True``.

    Args:
        filename (str): A local path or an ``http(s)://`` URL.
        map_location (str): Where to put the tensors. Defaults to 'cpu'.

    Returns:
        dict: The object stored in the file (usually a state dict or a dict
        with a ``state_dict`` entry).

    Raises:
        FileNotFoundError: The local file does not exist.
        DamagedFileError: The file is empty, truncated or not a torch file
            (the message names it and its size).
        pickle.UnpicklingError: The file pickles objects other than tensors
            and plain containers (it is refused, not executed). The few
            classes of mmengine's own training checkpoints are allowed
            (:func:`kdep_mm.compat.allow_mmengine_checkpoints`).
    """
    from ..compat import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    if filename.startswith(('http://', 'https://')):
        try:
            return torch.hub.load_state_dict_from_url(
                filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as e:
            raise _refused(filename, e) from None
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        obj = torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if 'GLOBAL' in str(e):  # a class or function, refused unrun
            raise _refused(filename, e) from None
        raise _damaged(filename, e) from None
    except (EOFError, KeyError, RuntimeError, ValueError,
            zipfile.BadZipFile) as e:
        raise _damaged(filename, e) from None
    verify_checksum(obj, filename)
    return obj


#: Where kdep_mm's own files (basis, exported student) record the
#: :func:`tensors_digest` of their tensors.
CHECKSUM_KEY = 'tensors_sha256'


def add_checksum(obj: dict) -> dict:
    """Record the digest of ``obj``'s tensors in ``obj['meta']`` (the
    tensors :func:`get_state_dict` finds); :func:`load_weights` verifies it.
    """
    obj.setdefault('meta',
                   {})[CHECKSUM_KEY] = tensors_digest(get_state_dict(obj))
    return obj


def verify_checksum(obj, filename: str) -> None:
    """Refuse a file whose tensors differ from the checksum it records
    (bytes changed after writing: a disk, copy or transfer fault). Files
    without one (not written by kdep_mm) pass.

    Raises:
        DamagedFileError: The tensors do not match (the message names the
            file and both digests).
    """
    meta = obj.get('meta') if isinstance(obj, dict) else None
    want = meta.get(CHECKSUM_KEY) if isinstance(meta, dict) else None
    if want is None:
        return
    got = tensors_digest(get_state_dict(obj))
    if got != want:
        raise DamagedFileError(
            f'cannot use {filename}: its tensors do not match the checksum '
            f'recorded when it was written (recorded {want[:16]}, content '
            f'{got[:16]}); the file was changed or damaged since. Write it '
            'again (re-run what made it, or copy it again) and retry.')


def damage_of(filename: str) -> str:
    """How a file that does not read looks: 'is empty' or 'is damaged or
    truncated (N bytes)'."""
    size = osp.getsize(filename)
    return 'is empty' if size == 0 else (
        f'is damaged or truncated ({size} bytes)')


def _damaged(filename: str, err: Exception) -> DamagedFileError:
    what = damage_of(filename)
    detail = str(err).splitlines()[0] if str(err) else 'no detail'
    return DamagedFileError(
        f'cannot read {filename}: the file {what} (torch.load: '
        f'{type(err).__name__}: {detail}). Write it again (re-run what '
        'made it, or copy it again) and retry.')


def _refused(filename: str, err: Exception) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(
        f'refusing to load {filename}: it contains pickled objects that are '
        'not plain tensors, so it is not loaded with weights_only=True (a '
        'weights file never needs them; if you made this file yourself, '
        f're-save its state dict). Details: {str(err).splitlines()[0]}')


def get_state_dict(obj: dict, prefix: Optional[str] = None) -> 'OrderedDict':
    """The state dict inside a loaded checkpoint, optionally under a prefix.

    Args:
        obj (dict): What :func:`load_weights` returned.
        prefix (str, optional): Keep only keys starting with it and strip it
            (e.g. ``'backbone.'``). An error if no key has it.
    """
    if not isinstance(obj, dict):
        raise TypeError(f'a checkpoint must be a dict, got {type(obj)}')
    state = obj.get('state_dict', obj.get('model', obj))
    state = OrderedDict(
        (k, v) for k, v in state.items() if isinstance(v, torch.Tensor))
    state = OrderedDict(
        (k[7:] if k.startswith('module.') else k, v) for k, v in state.items())
    if prefix:
        sub = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                          if k.startswith(prefix))
        if not sub:
            heads = sorted({k.split('.')[0] + '.' for k in state})[:10]
            raise KeyError(f'no key starts with prefix {prefix!r}; the '
                           f'checkpoint has prefixes {heads}')
        state = sub
    return state


def tensors_digest(state: Mapping[str, torch.Tensor]) -> str:
    """The sha256 hex digest of a state dict's keys, shapes and values (in
    key order; values widened to float32, so the digest of a module does not
    depend on where its tensors live)."""
    h = hashlib.sha256()
    for key, value in sorted(state.items()):
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()


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
