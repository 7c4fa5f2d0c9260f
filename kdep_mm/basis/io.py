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
CHECKED_FIELDS = ('teacher_fingerprint', 'teacher_tap', 'd_t')


def basis_meta(model, **extra) -> Dict:
    """The basis-file metadata of ``model``'s teacher (plus ``extra``).

    ``teacher_fingerprint``, ``teacher_tap`` and ``d_t`` identify the
    teacher (checked at load); ``teacher_arch`` and ``teacher_checkpoint``
    are for people reading the file.
    """
    t = model.teacher_meta
    return dict(
        teacher_fingerprint=t['fingerprint'],
        teacher_tap=t['tap'],
        d_t=t['width'],
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
                     result: Dict,
                     filename: str,
                     data: Optional[str] = None) -> str:
    """Write the basis that :func:`fit_basis` gave ``model`` (all D_t
    directions), with the model's teacher metadata and, if given, the
    :func:`data_fingerprint` of the images it came from."""
    extra = {} if data is None else dict(data_fingerprint=data)
    meta = basis_meta(
        model,
        **extra,
        num_images=result['num_images'],
        rank=int(model.align.rank),
        rank_rtol=float(model.align.rank_rtol),
        created=time.strftime('%Y-%m-%d %H:%M:%S'))
    return save_basis(filename, result['mean'], result['basis'],
                      result['spectrum'], meta)


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
    meta = obj['meta']
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
            f'basis file {filename} does not belong to this teacher/tap '
            f'(it was made from {meta.get("teacher_arch", "?")} with '
            f'{meta.get("num_images", "?")} images):\n  ' +
            '\n  '.join(problems) +
            '\nRecompute it (remove basis_file= to let KDEPBasisHook do it).')
    return obj


def load_basis_into(model, filename: str, data: Optional[str] = None) -> None:
    """Install the basis of ``filename`` in ``model``'s alignment, refusing
    one made for another teacher, tap or width (and, if ``data`` is given,
    for other images than that :func:`data_fingerprint`)."""
    if not model.align.needs_basis:
        raise ValueError(f'{type(model.align).__name__} uses no basis; '
                         'remove basis_file=')
    obj = load_basis(filename, expect=basis_meta(model), k=model.align.k)
    if data is not None and obj['meta'].get('data_fingerprint') != data:
        raise ValueError(
            f'basis file {filename} was computed from other images (data '
            f"fingerprint {obj['meta'].get('data_fingerprint')!r}, this run "
            f'{data!r})')
    model.align.set_basis(
        obj['mean'],
        obj['basis'],
        obj['spectrum'],
        num_images=obj['meta'].get('num_images', 0))
    MMLogger.get_current_instance().info(
        f'KDEP basis loaded from {filename} '
        f'({obj["meta"].get("num_images")} images, rank '
        f'{int(model.align.rank)})')
