"""Where a model's bases come from, decided in one place.

:func:`ensure_basis` is called by :class:`~kdep_mm.engine.hooks.
KDEPBasisHook` before training, by ``tools/compute_basis.py`` and by the
cache builder. In order:

1. **present**: every slot is initialised (``basis_file=`` was installed
   when the model was built, then checked against the pool here, or a
   resumed checkpoint restored it);
2. **from a file** given explicitly (checked: teacher, tap, width and
   pool; a file of another pool is used only with a reason, logged:
   :func:`check_pool`);
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
from typing import Callable, Dict, List, Optional, Union

from mmengine import dist
from mmengine.logging import MMLogger

from ..datasets.pool import PoolId
from ..utils.checkpoint import DamagedFileError
from .fit import fit_basis
from .io import RECOMPUTE, check_record, read_slots, save_bases


def basis_meta(model, slot: str = 'pooled', **extra) -> Dict:
    """The identity record of ``model``'s basis slot, plus ``extra``."""
    return dict(model.basis_records()[slot], **extra)


def standardized(align) -> Dict:
    """What a basis record says of a standardised target (several
    teachers): the spread its coordinates are divided by before PTS."""
    if not getattr(align, 'standardize', False):
        return {}
    return dict(standardize=True, spread=float(align.spread))


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
            created=time.strftime('%Y-%m-%d %H:%M:%S'),
            **standardized(align))
        for name, align in model.basis_slots().items()
    }
    return save_bases(filename, results, metas, data)


def load_basis_into(model,
                    filename: str,
                    data: Union[None, str, PoolId] = None,
                    fix: str = RECOMPUTE,
                    other_pool: Optional[str] = None,
                    logger=None) -> None:
    """Install the bases of ``filename`` in ``model``'s slots, refusing a
    file that lacks one of them or made one for another teacher, tap or
    width (every slot's problems named) and, if ``data`` is given, one of
    another pool (:func:`check_pool`). Nothing is installed unless every
    slot passes."""
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
    problems = []
    for name, align in slots.items():
        try:
            check_record(filename, records[name]['meta'], identity[name],
                         align.k,
                         '' if list(records) == ['pooled'] else f' ({name})',
                         '')
        except ValueError as e:
            problems.append(str(e).rstrip())
    if problems:  # every slot that does not fit, each naming its slot
        raise ValueError('\n'.join(problems) + '\n' + fix)
    if data is not None:
        check_pool(filename, [records[name]['meta'] for name in slots], data,
                   fix, other_pool, logger)
    for name, align in slots.items():
        rec = records[name]
        align.set_basis(
            rec['mean'],
            rec['basis'],
            rec['spectrum'],
            num_images=rec['meta'].get('num_images', 0))
        rows = 'images' if model.term(name).stride is None else 'rows'
        what = '' if name == 'pooled' else f' ({name})'
        MMLogger.get_current_instance().info(
            f'KDEP basis{what} loaded from {filename} '
            f'({rec["meta"].get("num_images")} {rows}, rank '
            f'{int(align.rank)})')


#: How to use a basis file of another pool on purpose.
OTHER_POOL = ("To use it on purpose (e.g. the 10% run's basis for the full "
              "set), say why: --basis-other-pool 'REASON' (tools/train.py, "
              'tools/build_target_cache.py); the reason is logged.')


def check_pool(filename: str,
               metas: List[Dict],
               pool: Union[str, PoolId],
               fix: Optional[str] = None,
               other_pool: Optional[str] = None,
               logger=None) -> None:
    """Refuse a basis file computed from another pool than ``pool``.

    A file without a pool fingerprint (older than the fingerprint) and one
    whose fingerprint is the older sorted form of this pool pass, with a
    log line; another pool passes only with ``other_pool`` (the reason,
    logged as a warning).

    Args:
        filename (str): The basis file (in messages).
        metas (list[dict]): The metadata of its slots.
        pool (str | PoolId): This run's pool.
        fix (str, optional): What to do instead, for an explicitly named
            file (None: the work directory's, recomputed by the caller).
        other_pool (str, optional): Why a file of another pool is used.
        logger (optional): Defaults to the current logger.

    Raises:
        ValueError: The file was computed from other images (both pool
            fingerprints and sizes named).
    """
    logger = logger or MMLogger.get_current_instance()
    pool = PoolId(pool) if isinstance(pool, str) else pool
    found = {m.get('data_fingerprint') for m in metas}
    theirs = next(iter(found)) if len(found) == 1 else sorted(map(str, found))
    if theirs == pool.fingerprint:
        return
    if theirs is None:
        logger.info(f'basis file {filename} records no pool fingerprint '
                    '(written before kdep_mm recorded one): the images it '
                    'was computed from are not checked')
        return
    if pool.sorted_form is not None and theirs == pool.sorted_form:
        logger.info(f'basis file {filename} records the older (sorted) '
                    "fingerprint of this run's pool: the same images, used")
        return
    sizes = sorted({m.get('num_images') for m in metas} - {None})
    which = (f'pool fingerprint {theirs!r}'
             f"{f', {sizes[0]} images' if len(sizes) == 1 else ''} in the "
             f"file; this run's pool {pool.fingerprint!r}"
             f"{f', {pool.size} images' if pool.size is not None else ''}")
    if fix is not None and other_pool:
        logger.warning(f'KDEP basis file {filename} was computed from other '
                       f'images ({which}); used as asked: {other_pool}')
        return
    raise ValueError(
        f'basis file {filename} was computed from other images ({which}; '
        'the fingerprint covers the image list, its order and a '
        'num_images limit).' + (f' {fix} {OTHER_POOL}' if fix else ''))


#: The model's ``basis_file=``, installed when it is built.
install_basis_file = load_basis_into


def describe(slots) -> str:
    """``<n> images, rank <r>`` of each basis slot."""
    return '; '.join(
        ('' if name == 'pooled' else f'{name}: ') + f'{int(a.num_images)} '
        f'{"images" if name.split("/")[-1] == "pooled" else "rows"}, '
        f'rank {int(a.rank)}' for name, a in slots.items())


def ensure_basis(model,
                 make_loader: Callable,
                 basis_file: Optional[str] = None,
                 work_file: Optional[str] = None,
                 data: Optional[str] = None,
                 num_images: Optional[int] = None,
                 device=None,
                 logger=None,
                 fix: str = RECOMPUTE,
                 other_pool: Optional[str] = None) -> Optional[str]:
    """Give ``model`` every basis it needs (see the module docstring).

    Args:
        model: The distiller (unwrapped).
        make_loader (callable): Returns the dataloader of the teacher
            pass (called only if a pass is needed).
        basis_file (str, optional): An explicit basis file.
        work_file (str, optional): The work directory's basis file: reused
            if it belongs here, else (re)written after a pass.
        data (str | PoolId | callable, optional): The pool of the
            images (:func:`~kdep_mm.datasets.pool.pool_id`), or a function
            that computes it (called only when a file is checked, reused or
            written: hashing a large pool's paths is skipped on resumed
            runs, whose bases are present and name no file).
        num_images (int, optional): Images of the teacher pass.
        device (optional): Where the pass's float64 sums live.
        logger (optional): Defaults to the current logger.
        fix (str): What a refusal of ``basis_file`` advises (the caller's
            own option).
        other_pool (str, optional): Why ``basis_file`` is used although
            it was computed from another pool (logged); without it such a
            file is refused (:func:`check_pool`).

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
        if basis_file and data is not None:  # installed when built
            check_pool(basis_file,
                       [r['meta'] for r in read_slots(basis_file).values()],
                       data() if callable(data) else data, fix, other_pool,
                       logger)
        return basis_file
    if callable(data):
        data = data()
    if basis_file:
        load_basis_into(model, basis_file, data, fix, other_pool, logger)
        return basis_file
    if work_file and osp.isfile(work_file):
        try:  # teacher, tap, width and images
            load_basis_into(model, work_file, data=data, logger=logger)
            logger.info(f'KDEP basis reused from {work_file} (this teacher, '
                        f'tap and images; {describe(slots)}); delete it to '
                        'recompute')
            return work_file
        except DamagedFileError as e:
            logger.warning(
                f'KDEP basis in {work_file} not reused: {e.reason}. It is '
                'recomputed from the images now (one teacher pass) and '
                f'{work_file} is rewritten with it, replacing the damaged '
                'file.')
        except ValueError as e:
            logger.warning(f'KDEP basis in {work_file} not reused, '
                           f'recomputing it: {e}')
    result = fit_basis(model, make_loader(), num_images, device, logger)
    if work_file and dist.is_main_process():
        save_model_basis(
            model,
            result,
            work_file,
            data=data.fingerprint if isinstance(data, PoolId) else data)
        logger.info(f'KDEP basis written to {work_file}')
    dist.barrier()
    return work_file
