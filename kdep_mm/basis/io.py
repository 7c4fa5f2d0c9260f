"""The basis file: mean, directions and spectrum plus the metadata that
ties them to one teacher, tap and width.

A basis computed once can be reused by later runs and by other students
(``basis_file=`` in the model config), but only with the teacher it was
made from: loading checks the teacher's fingerprint (a hash of its
weights), its tap, the teacher width and k, and refuses a mismatch with a
message that names both sides. Files are plain tensors and strings
(readable with ``weights_only=True``), are written atomically and record
a checksum of their tensors that every load verifies.

This layer reads and writes plain records: the model hands it identity
records (``KDEP.basis_records()``), and :mod:`.lifecycle` installs what it
reads; it never calls into a model. :func:`read_slots` is the one reader
of every basis file format.
"""
from typing import Dict, Optional

import torch

from ..utils.checkpoint import add_checksum, load_weights
from ..utils.fileio import torch_save_atomic

FORMAT = 'kdep_basis/1'
#: Several bases in one file (a dense model: the pooled target and each
#: stage): tensors ``<slot>.mean`` / ``.basis`` / ``.spectrum`` and, in
#: ``meta['slots'][<slot>]``, each slot's own ``kdep_basis/1`` metadata.
STAGES_FORMAT = 'kdep_basis_stages/1'
#: ``teachers``: several teachers' names and fingerprints, in order (the
#: order fixes each one's slice of the student).
CHECKED_FIELDS = ('teacher_fingerprint', 'teacher_tap', 'd_t', 'teachers')
TENSORS = ('mean', 'basis', 'spectrum')


def save_basis(filename: str, mean: torch.Tensor, basis: torch.Tensor,
               spectrum: torch.Tensor, meta: Dict) -> str:
    """Write a basis file atomically (temporary file, then rename).

    Args:
        filename (str): Destination path.
        mean, basis, spectrum (Tensor): As returned by
            :meth:`StreamingCovariance.decompose` (``basis`` may hold all
            D_t directions, so students of any width <= D_t can reuse it).
        meta (dict): :func:`basis_meta` fields, ``num_images``, ``rank``
            ... (str, int or float values).

    Returns:
        str: ``filename``.
    """
    d_t = mean.numel()
    if basis.shape[0] != d_t or spectrum.numel() != d_t:
        raise ValueError('mean, basis and spectrum widths differ')
    meta = dict(meta, format=FORMAT, d_t=d_t, k_max=basis.shape[1])
    payload = dict(
        mean=mean.detach().cpu().float().contiguous(),
        basis=basis.detach().cpu().float().contiguous(),
        spectrum=spectrum.detach().cpu().float().contiguous(),
        meta=meta)
    return torch_save_atomic(add_checksum(payload), filename)


def save_bases(filename: str,
               results: Dict[str, Dict],
               metas: Dict[str, Dict],
               data: Optional[str] = None) -> str:
    """Write the bases of several slots (all D_t directions of each) with
    their identity records ``metas`` (plain values: teacher fingerprint,
    tap, width, rank, ... per slot) and, if given, the pool fingerprint
    ``data`` of the images they came from.

    Only the pooled slot: a ``kdep_basis/1`` file; several slots (a model
    with map terms): a ``kdep_basis_stages/1`` file holding every slot,
    each with the metadata a single file has.
    """
    extra = {} if data is None else dict(data_fingerprint=data)
    metas = {name: dict(meta, **extra) for name, meta in metas.items()}
    if list(metas) == ['pooled']:
        r = results['pooled']
        return save_basis(filename, r['mean'], r['basis'], r['spectrum'],
                          metas['pooled'])
    payload = {}
    for name, meta in metas.items():
        r = results[name]
        for key in TENSORS:
            payload[f'{name}.{key}'] = r[key].detach().cpu().float(
            ).contiguous()
        meta.update(
            format=FORMAT, d_t=r['mean'].numel(), k_max=r['basis'].shape[1])
    payload['meta'] = dict(format=STAGES_FORMAT, slots=metas, **extra)
    return torch_save_atomic(add_checksum(payload), filename)


#: What to do about a basis file that belongs elsewhere (a training run).
RECOMPUTE = 'Recompute it (remove basis_file= to let KDEPBasisHook do it).'


def check_record(filename: str,
                 meta: Dict,
                 expect: Optional[Dict],
                 k: Optional[int],
                 what: str = '',
                 fix: str = RECOMPUTE) -> None:
    """Refuse a basis record made for another teacher, tap or width."""
    problems = []
    for field in CHECKED_FIELDS:
        if expect and field in expect and meta.get(field) != expect[field]:
            problems.append(f'{field}: file has {meta.get(field)!r}, this '
                            f'model has {expect[field]!r}')
    if k is not None and meta['k_max'] < k:
        problems.append(f'directions: file has {meta["k_max"]}, the student '
                        f'needs k = {k}')
    if problems:
        pooled = what == '' or what.endswith(('(pooled)', '/pooled)'))
        raise ValueError(
            f'basis file {filename}{what} does not belong to this '
            f'teacher/tap (it was made from {meta.get("teacher_arch", "?")} '
            f'with {meta.get("num_images", "?")} '
            f'{"images" if pooled else "location vectors"}'
            '):\n  ' + '\n  '.join(problems) + '\n' + fix)


def load_basis(filename: str,
               expect: Optional[Dict] = None,
               k: Optional[int] = None) -> Dict:
    """Read a basis file and check that it belongs to the expected teacher.

    Args:
        filename (str): The file.
        expect (dict, optional): Values of ``teacher_fingerprint``,
            ``teacher_tap`` and ``d_t`` that the file must carry (e.g.
            :func:`basis_meta` of the model).
        k (int, optional): The student width; the file must hold at least
            that many directions.

    Raises:
        ValueError: Not a basis file, or it was made for another teacher,
            tap or width (the message names both sides).
    """
    records = read_slots(filename)
    if 'pooled' not in records:
        raise ValueError(f'{filename} holds no pooled basis (it holds '
                         f'{sorted(records)})')
    check_record(filename, records['pooled']['meta'], expect, k)
    return records['pooled']


def read_slots(filename: str) -> Dict[str, Dict]:
    """Every basis record of a basis file, by slot name: a single
    ``kdep_basis/1`` file is the ``pooled`` slot. Each record has ``mean``,
    ``basis``, ``spectrum`` and its ``meta``."""
    obj = load_weights(filename)
    fmt = obj.get('meta', {}).get('format') if isinstance(obj, dict) else None
    if fmt == FORMAT:
        return {'pooled': obj}
    if fmt != STAGES_FORMAT:
        raise ValueError(f'{filename} is not a kdep_mm basis file')
    return {
        name: dict({key: obj[f'{name}.{key}']
                    for key in TENSORS}, meta=meta)
        for name, meta in obj['meta']['slots'].items()
    }
