"""The basis file: mean, directions and spectrum plus the metadata that
ties them to one teacher, tap and width.

A basis computed once can be reused by later runs and by other students
(``basis_file=`` in the model config), but only with the teacher it was
made from: loading checks the teacher's fingerprint (a hash of its
weights), its tap, the teacher width and k, and refuses a mismatch with a
message that names both sides. Files are plain tensors and strings
(readable with ``weights_only=True``), are written atomically and record
a checksum of their tensors that every load verifies.

:func:`basis_meta` is the one place that turns a model's teacher
description (:attr:`KDEP.teacher_meta`) into the file's metadata; the
same fields are what a load checks.
"""
import hashlib
import time
from typing import Dict, Optional

import torch
from mmengine.logging import MMLogger

from ..utils.checkpoint import add_checksum, load_weights
from ..utils.fileio import torch_save_atomic

FORMAT = 'kdep_basis/1'
#: Several bases in one file (a dense model: the pooled target and each
#: stage): tensors ``<slot>.mean`` / ``.basis`` / ``.spectrum`` and, in
#: ``meta['slots'][<slot>]``, each slot's own ``kdep_basis/1`` metadata.
STAGES_FORMAT = 'kdep_basis_stages/1'
CHECKED_FIELDS = ('teacher_fingerprint', 'teacher_tap', 'd_t')
TENSORS = ('mean', 'basis', 'spectrum')


def basis_meta(model, slot: str = 'pooled', **extra) -> Dict:
    """The basis-file metadata of ``model``'s teacher for one basis slot
    (the pooled target, or a dense stage), plus ``extra``.

    ``teacher_fingerprint``, ``teacher_tap`` and ``d_t`` identify the
    teacher and its feature (checked at load); ``teacher_arch`` and
    ``teacher_checkpoint`` are for people reading the file.
    """
    t = model.teacher_meta
    return dict(
        teacher_fingerprint=t['fingerprint'],
        **model.slot_identity(slot),
        teacher_arch=str(t['model']),
        teacher_checkpoint=str(t['checkpoint']),
        **extra)


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


def data_fingerprint(dataset, num_images: Optional[int] = None) -> str:
    """A short hash of the images a basis pass reads: the dataset's image
    paths (sorted) and the ``num_images`` limit. It tells a basis of this
    pool from one of another (the teacher identity alone does not)."""
    h = hashlib.sha256(f'num_images={num_images}\n'.encode())
    paths = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i) if hasattr(dataset,
                                                   'get_data_info') else {}
        paths.append(str(info.get('img_path', i)))
    for path in sorted(paths):
        h.update(path.encode() + b'\n')
    return h.hexdigest()[:16]


def save_model_basis(model,
                     results: Dict[str, Dict],
                     filename: str,
                     data: Optional[str] = None) -> str:
    """Write the bases that :func:`fit_basis` gave ``model`` (all D_t
    directions of each), with the model's teacher metadata and, if given,
    the :func:`data_fingerprint` of the images they came from.

    A model with only the pooled target writes a ``kdep_basis/1`` file;
    one with dense stages a ``kdep_basis_stages/1`` file holding every
    slot (each with the same metadata a single file has).
    """
    extra = {} if data is None else dict(data_fingerprint=data)
    metas = {}
    for name, align in model.basis_slots().items():
        metas[name] = basis_meta(
            model,
            name,
            **extra,
            num_images=results[name]['num_images'],
            rank=int(align.rank),
            rank_rtol=float(align.rank_rtol),
            created=time.strftime('%Y-%m-%d %H:%M:%S'))
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


def _check(filename: str,
           meta: Dict,
           expect: Optional[Dict],
           k: Optional[int],
           what: str = '') -> None:
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
        raise ValueError(
            f'basis file {filename}{what} does not belong to this '
            f'teacher/tap (it was made from {meta.get("teacher_arch", "?")} '
            f'with {meta.get("num_images", "?")} '
            f'{"location vectors" if what else "images"}):\n  ' +
            '\n  '.join(problems) +
            '\nRecompute it (remove basis_file= to let KDEPBasisHook do it).')


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
    obj = load_weights(filename)
    if not isinstance(obj, dict) or obj.get('meta',
                                            {}).get('format') != FORMAT:
        raise ValueError(f'{filename} is not a kdep_mm basis file')
    _check(filename, obj['meta'], expect, k)
    return obj


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


def load_basis_into(model, filename: str, data: Optional[str] = None) -> None:
    """Install the bases of ``filename`` in ``model``'s alignments (the
    pooled target, each dense stage), refusing a file that lacks one of
    them or made one for another teacher, tap or width (and, if ``data``
    is given, for other images than that :func:`data_fingerprint`).
    Nothing is installed unless every slot passes."""
    slots = model.basis_slots()
    if not slots:
        raise ValueError(f'{type(model.align).__name__} uses no basis; '
                         'remove basis_file=')
    records = read_slots(filename)
    missing = [name for name in slots if name not in records]
    if missing:
        raise ValueError(
            f'basis file {filename} has no basis for {missing} (it holds '
            f'{sorted(records)}): it was made for another model or stages. '
            'Recompute it (remove basis_file= to let KDEPBasisHook do it).')
    for name, align in slots.items():
        meta = records[name]['meta']
        _check(filename, meta, basis_meta(model, name), align.k,
               f' ({name})' if name != 'pooled' else '')
        if data is not None and meta.get('data_fingerprint') != data:
            raise ValueError(
                f'basis file {filename} was computed from other images (data'
                f" fingerprint {meta.get('data_fingerprint')!r}, this run "
                f'{data!r})')
    for name, align in slots.items():
        rec = records[name]
        align.set_basis(
            rec['mean'],
            rec['basis'],
            rec['spectrum'],
            num_images=rec['meta'].get('num_images', 0))
        rows = 'images' if name == 'pooled' else 'rows'
        what = '' if name == 'pooled' else f' ({name})'
        MMLogger.get_current_instance().info(
            f'KDEP basis{what} loaded from {filename} '
            f'({rec["meta"].get("num_images")} {rows}, rank '
            f'{int(align.rank)})')
