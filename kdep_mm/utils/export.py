"""Export the student backbone of a KDEP pre-training checkpoint.

A KDEP pre-training checkpoint already loads downstream with
``prefix='backbone.'``. The exported file is the same backbone without
anything else: a dict ``{'state_dict': <backbone tensors>, 'meta': {...}}``
holding plain tensors and plain Python values only, so that
``torch.load(weights_only=True)`` reads it. It is named like OpenMMLab's
published weights, ``<stem>-<first 8 hex digits of its sha256>.pth``, and
its metadata records the teacher, the student architecture and the tap.

Nothing is written unless every student key is present with the right
shape: the student is rebuilt from ``meta['kdep']['student']`` and the
tensors are loaded into it strictly.
"""
import datetime
import hashlib
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Optional, Tuple, Union

import torch

from ..version import __version__
from .checkpoint import (add_checksum, get_state_dict, has_checksum,
                         load_state_dict_strict, load_weights)
from .fileio import atomic_write, torch_bytes
from .misc import build_mmpretrain, to_plain

#: Version of the exported file's layout (``meta['export']['format']``).
EXPORT_FORMAT = 1


class NotAKDEPCheckpointError(ValueError):
    """The input is not a KDEP pre-training checkpoint."""


def kdep_meta_of(checkpoint: dict, source: str = 'checkpoint') -> dict:
    """``checkpoint['meta']['kdep']`` (what :meth:`KDEP.kdep_meta` wrote),
    or a clear error if it is absent.

    Args:
        checkpoint (dict): A loaded checkpoint.
        source (str): Named in the error message.

    Raises:
        NotAKDEPCheckpointError: There is no ``meta['kdep']`` dict.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    kdep = meta.get('kdep') if isinstance(meta, dict) else None
    if not isinstance(kdep, dict) or 'student' not in kdep:
        raise NotAKDEPCheckpointError(
            f'{source} is not a KDEP pre-training checkpoint: it has no '
            "meta['kdep'] with the student architecture. Checkpoints "
            'written by a KDEP run carry it (KDEPExportHook adds it); a '
            'plain backbone can be loaded downstream directly.')
    return kdep


def build_student(student_cfg: dict) -> torch.nn.Module:
    """Build the student backbone from its config (mmpretrain's registry).

    ``init_cfg`` is dropped: the student is only needed for its keys and
    shapes, nothing is downloaded or loaded.
    """
    cfg = dict(student_cfg)
    cfg.pop('init_cfg', None)
    return build_mmpretrain(cfg)


def extract_student(
        checkpoint: Union[str, dict],
        source: Optional[str] = None) -> Tuple['OrderedDict', dict]:
    """Validated student tensors and metadata of a KDEP checkpoint.

    Args:
        checkpoint (str | dict): A checkpoint file (read weights-only) or an
            already loaded checkpoint dict.
        source (str, optional): Name of the input in messages and metadata.

    Returns:
        tuple: ``(state_dict, meta)``: the backbone tensors (CPU, keys
        without ``'backbone.'``) and the plain metadata of the exported file.

    Raises:
        NotAKDEPCheckpointError: No ``meta['kdep']`` or no backbone keys.
        CheckpointMismatchError: Missing, unexpected or mis-shaped keys
            against the student architecture.
        DamagedFileError: The file does not read, or its tensors differ
            from the checksum recorded when it was saved (named, with the
            earlier checkpoints to use).
    """
    if isinstance(checkpoint, str):
        source = source or checkpoint
        checkpoint = load_weights(checkpoint)  # its checksum verified
        if not has_checksum(checkpoint):
            warnings.warn(
                f'{source} carries no checksum (saved before kdep_mm recorded '
                'one in every checkpoint): its tensors are exported '
                'unverified',
                stacklevel=2)
    source = source or 'checkpoint'
    kdep = kdep_meta_of(checkpoint, source)
    if 'export' in checkpoint.get('meta', {}):
        raise NotAKDEPCheckpointError(
            f'{source} is already an exported backbone file; use it '
            'downstream as it is.')
    try:
        state = get_state_dict(checkpoint, prefix='backbone.')
    except KeyError as e:
        raise NotAKDEPCheckpointError(
            f'{source} has no student backbone tensors: {e}') from None
    state = OrderedDict((k, v.detach().to('cpu', copy=True).contiguous())
                        for k, v in state.items())
    student = build_student(kdep['student'])
    load_state_dict_strict(
        student, state, source=f'student backbone of {source}')

    old = checkpoint.get('meta', {})
    meta = dict(
        kdep=to_plain(kdep),
        export=dict(
            format=EXPORT_FORMAT,
            source=osp.basename(source),
            epoch=to_plain(old.get('epoch')),
            iter=to_plain(old.get('iter')),
            num_tensors=len(state),
            num_params=int(sum(p.numel() for p in student.parameters())),
            kdep_mm_version=__version__,
            torch_version=torch.__version__,
            time=datetime.datetime.now().strftime('%Y%m%d_%H%M%S')))
    return state, to_plain(meta)


def save_hashed(obj: dict, out_dir: str, stem: str) -> str:
    """Save ``obj`` atomically as ``<out_dir>/<stem>-<sha256[:8]>.pth``.

    The hash is that of the file's bytes, as in OpenMMLab's model zoo
    (``sha256sum`` of the file starts with the same 8 hex digits).
    """
    data = torch_bytes(obj)
    digest = hashlib.sha256(data).hexdigest()[:8]
    return atomic_write(osp.join(out_dir, f'{stem}-{digest}.pth'), data)


def default_stem(meta: dict) -> str:
    """``kdep_<student>_from_<teacher>`` from the metadata, e.g.
    ``kdep_resnet18_from_resnet50``."""

    def short(cfg) -> str:
        cfg = cfg if isinstance(cfg, dict) else {}
        if 'backbone' in cfg and isinstance(cfg['backbone'], dict):
            cfg = cfg['backbone']
        name = str(cfg.get('type', 'model')).split('.')[-1].lower()
        if 'depth' in cfg:
            name += str(cfg['depth'])
        return name

    kdep = meta['kdep']
    teacher = kdep.get('teacher') or {}
    return (f"kdep_{short(kdep['student'])}"
            f"_from_{short(teacher.get('model', {}))}")


def export_student(checkpoint: Union[str, dict],
                   out_dir: str,
                   name: Optional[str] = None,
                   source: Optional[str] = None) -> str:
    """Write the backbone-only file of a KDEP checkpoint.

    Args:
        checkpoint (str | dict): The pre-training checkpoint (file or dict).
        out_dir (str): Directory of the exported file (created if needed).
        name (str, optional): File name stem; the hash and ``.pth`` are
            appended. Defaults to ``kdep_<student>_from_<teacher>``.
        source (str, optional): Name of the input recorded in the metadata
            (defaults to the file name).

    Returns:
        str: The path of the written file.
    """
    state, meta = extract_student(checkpoint, source=source)
    stem = name or default_stem(meta)
    if stem.endswith('.pth'):
        stem = stem[:-4]
    return save_hashed(
        add_checksum(dict(meta=meta, state_dict=state)), out_dir, stem)
