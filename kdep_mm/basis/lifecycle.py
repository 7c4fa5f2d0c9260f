"""Where a model's bases come from, decided in one place.

:func:`ensure_basis` is called by :class:`~kdep_mm.engine.hooks.
KDEPBasisHook` before training, by ``tools/compute_basis.py`` and by the
cache builder. In order:

1. **present**: every slot is initialised (``basis_file=`` was installed
   when the model was built, or a resumed checkpoint restored it);
2. **from a file** given explicitly (checked: teacher, tap, width);
3. **reused** from the work directory's basis file when it belongs to
   this teacher, tap, width *and pool* (a run that died before its first
   checkpoint, or a re-run), with the reason logged when it is not;
4. **computed**: one teacher pass (:func:`~.fit.fit_basis`), written to
   the work-directory file by rank 0.

The model hands plain identity records to the file layer
(``model.basis_records()``); :mod:`.io` never calls into the model.
"""
import os.path as osp
import time
from typing import Callable, Dict, Optional, Union

from mmengine import dist
from mmengine.logging import MMLogger

from ..utils.checkpoint import DamagedFileError
from .fit import fit_basis
from .io import RECOMPUTE, check_record, read_slots, save_bases


def basis_meta(model, slot: str = 'pooled', **extra) -> Dict:
    """The identity record of ``model``'s basis slot, plus ``extra``."""
    return dict(model.basis_records()[slot], **extra)


def save_model_basis(model,
                     results: Dict[str, Dict],
                     filename: str,
                     data: Optional[str] = None) -> str:
    """Write the bases :func:`fit_basis` gave ``model``, each with its
    identity record, rank and the pool fingerprint ``data``."""
    metas = {
        name:
        basis_meta(
            model,
            name,
            num_images=results[name]['num_images'],
            rank=int(align.rank),
            rank_rtol=float(align.rank_rtol),
            created=time.strftime('%Y-%m-%d %H:%M:%S'))
        for name, align in model.basis_slots().items()
    }
    return save_bases(filename, results, metas, data)


def load_basis_into(model,
                    filename: str,
                    data: Union[None, str, Callable[[], str]] = None,
                    fix: str = RECOMPUTE) -> None:
    """Install the bases of ``filename`` in ``model``'s slots, refusing a
    file that lacks one of them or made one for another teacher, tap or
    width (and, if ``data`` is given, from another pool). Nothing is
    installed unless every slot passes."""
    slots = model.basis_slots()
    if not slots:
        kinds = sorted({type(t.align).__name__ for t in model.terms})
        raise ValueError(f"{', '.join(kinds)} uses no basis; remove "
                         'basis_file=')
    records = read_slots(filename)
    missing = [name for name in slots if name not in records]
    if missing:
        raise ValueError(
            f'basis file {filename} has no basis for {missing} (it holds '
            f'{sorted(records)}): it was made for another model or stages. ' +
            fix)
    identity = model.basis_records()
    for name, align in slots.items():
        meta = records[name]['meta']
        check_record(filename, meta, identity[name], align.k,
                     f' ({name})' if name != 'pooled' else '', fix)
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


#: The model's ``basis_file=``, installed when it is built.
install_basis_file = load_basis_into


def describe(slots) -> str:
    """``<n> images, rank <r>`` of each basis slot."""
    return '; '.join(
        ('' if name == 'pooled' else f'{name}: ') +
        f'{int(a.num_images)} {"images" if name == "pooled" else "rows"}, '
        f'rank {int(a.rank)}' for name, a in slots.items())


def ensure_basis(model,
                 make_loader: Callable,
                 basis_file: Optional[str] = None,
                 work_file: Optional[str] = None,
                 data: Optional[str] = None,
                 num_images: Optional[int] = None,
                 device=None,
                 logger=None,
                 fix: str = RECOMPUTE) -> Optional[str]:
    """Give ``model`` every basis it needs (see the module docstring).

    Args:
        model: The distiller (unwrapped).
        make_loader (callable): Returns the dataloader of the teacher
            pass (called only if a pass is needed).
        basis_file (str, optional): An explicit basis file.
        work_file (str, optional): The work directory's basis file: reused
            if it belongs here, else (re)written after a pass.
        data (str | callable, optional): The pool fingerprint of the
            images, or a function that computes it (called only when a
            file is reused or written: hashing a large pool's paths is
            skipped when the bases are present).
        num_images (int, optional): Images of the teacher pass.
        device (optional): Where the pass's float64 sums live.
        logger (optional): Defaults to the current logger.
        fix (str): What a refusal of ``basis_file`` advises (the caller's
            own option).

    Returns:
        str | None: The file that holds the installed bases (None when
        they were already present and no file was named).
    """
    logger = logger or MMLogger.get_current_instance()
    slots = model.basis_slots()
    if not slots:
        return None
    if all(a.is_initialized for a in slots.values()):
        logger.info('KDEP basis already present (basis file or resumed '
                    f'checkpoint: {describe(slots)}); not recomputing it')
        return basis_file
    if basis_file:
        load_basis_into(model, basis_file, fix=fix)
        return basis_file
    if callable(data):
        data = data()
    if work_file and osp.isfile(work_file):
        try:  # teacher, tap, width and images
            load_basis_into(model, work_file, data=data)
            logger.info(f'KDEP basis reused from {work_file} (this teacher, '
                        f'tap and images; {describe(slots)}); delete it to '
                        'recompute')
            return work_file
        except (ValueError, DamagedFileError) as e:
            logger.warning(f'KDEP basis in {work_file} not reused, '
                           f'recomputing it: {e}')
    result = fit_basis(model, make_loader(), num_images, device, logger)
    if work_file and dist.is_main_process():
        save_model_basis(model, result, work_file, data=data)
        logger.info(f'KDEP basis written to {work_file}')
    dist.barrier()
    return work_file
