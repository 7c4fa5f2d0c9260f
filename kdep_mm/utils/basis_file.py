"""The basis file: mean, directions and spectrum plus the metadata that
ties them to one teacher, tap and width.

A basis computed once can be reused by later runs and by other students
(``basis_file=`` in the model config), but only with the teacher it was
made from: loading checks the teacher's fingerprint (a hash of its
weights), its tap, the teacher width and k, and refuses a mismatch with a
message that names both sides. Files are plain tensors and strings
(readable with ``weights_only=True``) and are written atomically.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Optional

import torch

from .checkpoint import load_weights

FORMAT = 'kdep_basis/1'
CHECKED_FIELDS = ('teacher_fingerprint', 'teacher_tap', 'd_t')


def save_basis(filename: str, mean: torch.Tensor, basis: torch.Tensor,
               spectrum: torch.Tensor, meta: Dict) -> str:
    """Write a basis file atomically (temporary file, then rename).

    Args:
        filename (str): Destination path.
        mean, basis, spectrum (Tensor): As returned by
            :meth:`StreamingCovariance.decompose` (``basis`` may hold all
            D_t directions, so students of any width <= D_t can reuse it).
        meta (dict): ``teacher_fingerprint``, ``teacher_tap``,
            ``teacher_arch``, ``d_t``, ``num_images``, ``rank`` ... (str,
            int or float values).

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
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(payload, f)
        os.replace(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return filename


def load_basis(filename: str,
               expect: Optional[Dict] = None,
               k: Optional[int] = None) -> Dict:
    """Read a basis file and check that it belongs to the expected teacher.

    Args:
        filename (str): The file.
        expect (dict, optional): Values of ``teacher_fingerprint``,
            ``teacher_tap`` and ``d_t`` that the file must carry.
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
