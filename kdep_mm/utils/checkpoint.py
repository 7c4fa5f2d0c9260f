"""Weights-only checkpoint loading, and the checksums of kdep_mm's files.

Third-party weights (teachers, pretrained backbones, exported students) are
plain tensors: they are always read with ``weights_only=True``, so a file
that carries pickled code is refused, never executed. kdep_mm's own files
record a digest of their tensors that every load verifies: basis files and
exported students over their state dict (:data:`CHECKSUM_KEY`), training
checkpoints per entry (:data:`CHECKPOINT_CHECKSUM_KEY`, written by
``KDEPCheckpointHook``). Loading into a module is all or nothing
(:mod:`.strict_load`).
"""
import glob
import hashlib
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Dict, Mapping, Optional

import torch

from .misc import leaves
# Strict loading lives in .strict_load; imported from here by most callers.
from .strict_load import CheckpointMismatchError  # noqa: F401
from .strict_load import compare_state_dict  # noqa: F401
from .strict_load import load_state_dict_strict  # noqa: F401


class DamagedFileError(ValueError):
    """A weights file is empty, truncated or otherwise unreadable.

    Args:
        message (str): The whole message (file, damage, what to do).
        reason (str, optional): The damage alone, without the advice (for
            callers that recover by themselves and say how).
    """

    def __init__(self, message: str, reason: Optional[str] = None):
        super().__init__(message)
        self.reason = reason or message


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


#: Where training checkpoints (``KDEPCheckpointHook``) record, per entry
#: of the checkpoint (``state_dict``, ``optimizer``, ...), the
#: :func:`tensors_digest` of every tensor in it.
CHECKPOINT_CHECKSUM_KEY = 'checkpoint_sha256'


def nested_tensors(obj) -> Dict[str, torch.Tensor]:
    """Every tensor below ``obj`` (dicts, lists, tuples), by dotted path."""
    if isinstance(obj, torch.Tensor):
        return {'': obj}
    return {k: v for k, v in leaves(obj) if isinstance(v, torch.Tensor)}


def entry_digests(checkpoint: dict) -> Dict[str, str]:
    """:func:`tensors_digest` of each top-level entry of a training
    checkpoint that holds tensors (``meta`` excluded)."""
    digests = {}
    for name, value in checkpoint.items():
        tensors = nested_tensors(value)
        if name != 'meta' and tensors:
            digests[name] = tensors_digest(tensors)
    return digests


def add_checkpoint_checksum(checkpoint: dict) -> dict:
    """Record :func:`entry_digests` in ``checkpoint['meta']`` (what
    ``KDEPCheckpointHook`` does to every checkpoint it saves); an entry
    removed later (a published checkpoint without the optimizer) is not
    missed, a changed one is refused by :func:`verify_checksum`."""
    checkpoint.setdefault('meta', {})[CHECKPOINT_CHECKSUM_KEY] = \
        entry_digests(checkpoint)
    return checkpoint


def has_checksum(obj) -> bool:
    """Whether a loaded file records a checksum of its tensors."""
    meta = obj.get('meta') if isinstance(obj, dict) else None
    return isinstance(meta, dict) and (CHECKSUM_KEY in meta
                                       or CHECKPOINT_CHECKSUM_KEY in meta)


def verify_checksum(obj, filename: str) -> None:
    """Refuse a file whose tensors differ from the checksum it records
    (bytes changed after writing: a disk, copy or transfer fault). Files
    without one (not written by kdep_mm) pass.

    Raises:
        DamagedFileError: The tensors do not match (the message names the
            file, the damaged part, both digests and what to do).
    """
    meta = obj.get('meta') if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return
    want = meta.get(CHECKSUM_KEY)
    if want is not None:
        got = tensors_digest(get_state_dict(obj))
        if got != want:
            raise _changed(
                filename, 'its tensors', want, got,
                'Write it again (re-run what made it, or copy it '
                'again) and retry.')
    for name, want in (meta.get(CHECKPOINT_CHECKSUM_KEY) or {}).items():
        if name not in obj:
            continue  # removed on purpose (a published checkpoint)
        got = tensors_digest(nested_tensors(obj[name]))
        if got != want:
            raise _changed(filename, f"the tensors of its '{name}'", want, got,
                           earlier_checkpoints(filename))


def earlier_checkpoints(filename: str) -> str:
    """What to do about a damaged training checkpoint: use an earlier one
    of the same run (the newest ones in its folder are named)."""

    def step(path: str) -> Optional[int]:
        found = re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', osp.basename(path))
        return int(found.group(1)) if found else None

    folder = osp.dirname(osp.abspath(filename))
    mine = step(filename)
    older = sorted(
        (p for p in glob.glob(osp.join(folder, '*.pth'))
         if step(p) is not None and (mine is None or step(p) < mine)),
        key=step,
        reverse=True)
    names = ', '.join(osp.basename(p) for p in older[:3])
    example = older[0] if older else osp.join(folder, 'epoch_<N-1>.pth')
    return ('Use an earlier checkpoint of the same run instead (--resume '
            f'{example}, or give it to tools/extract_student.py)' +
            (f'; there: {names}' if names else '') +
            '. This one cannot be repaired.')


def _changed(filename: str, what: str, want: str, got: str,
             fix: str) -> DamagedFileError:
    reason = (f'{what} do not match the checksum recorded when it was '
              f'written (recorded {want[:16]}, content {got[:16]}); the file '
              'was changed or damaged since')
    return DamagedFileError(
        f'cannot use {filename}: {reason}. {fix}', reason=reason)


def damage_of(filename: str) -> str:
    """How a file that does not read looks: 'is empty' or 'is damaged or
    truncated (N bytes)'."""
    size = osp.getsize(filename)
    return 'is empty' if size == 0 else (
        f'is damaged or truncated ({size} bytes)')


def _damaged(filename: str, err: Exception) -> DamagedFileError:
    detail = str(err).splitlines()[0] if str(err) else 'no detail'
    reason = (f'the file {damage_of(filename)} (torch.load: '
              f'{type(err).__name__}: {detail})')
    return DamagedFileError(
        f'cannot read {filename}: {reason}. Write it again (re-run what '
        'made it, or copy it again) and retry.',
        reason=reason)


def _refused(filename: str, err: Exception) -> pickle.UnpicklingError:
    """Why a file that pickles objects is refused, without torch's advice
    to load it with ``weights_only=False``."""
    found = re.search(r'GLOBAL ([\w.]+)', str(err))
    what = found.group(1) if found else str(err).splitlines()[0]
    return pickle.UnpicklingError(
        f'refusing to load {filename}: it pickles Python objects, not only '
        f'tensors and plain values (first: {what}), and unpickling them '
        'could run any code, so kdep_mm reads it with weights_only=True '
        'only. Checkpoints, bases and exports of kdep_mm never need more. '
        'If you made this file yourself or trust where it came from, load '
        f"it once with torch.load('{filename}', weights_only=False) and "
        "save its tensors again (torch.save({'state_dict': ...}, NEW_FILE)); "
        'otherwise use another copy or an earlier checkpoint.')


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
