"""Command-line arguments shared by ``tools/train.py`` and ``tools/test.py``.
"""
import argparse
import os.path as osp
import warnings
import zipfile

from mmengine.config import Config, DictAction

from .checkpoint import (DamagedFileError, damage_of, earlier_checkpoints,
                         has_checksum, load_weights)
from .overrides import unread_overrides


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy (lists as key="[a,b]")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank (older); accept both.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--strict-cfg-options',
        action='store_true',
        help='stop (instead of warning) when a --cfg-options key changes '
        'nothing (a config variable such as data_root, or a misspelt key)')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent dataloader workers')


def merge_common_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the common arguments; ``--cfg-options`` last, so it wins.

    The work directory is ``--work-dir``, else the config's, else
    ``./work_dirs/<config name>`` (as in OpenMMLab's tools).
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        stem = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', stem)
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is None:
            continue
        workers = loader.get('num_workers', 0)
        # Keep workers alive between epochs (and pin memory) when there
        # are workers at all; torch refuses persistent_workers otherwise.
        loader.setdefault('persistent_workers', workers > 0)
        if workers == 0 or args.no_persistent_workers:
            loader['persistent_workers'] = False
    if args.cfg_options is not None:
        for message in unread_overrides(cfg, args.cfg_options):
            if getattr(args, 'strict_cfg_options', False):
                raise SystemExit(f'error: {message}')
            warnings.warn(message, stacklevel=2)
        # mmengine's own semantics: each key sets exactly that key. A
        # top-level variable (``checkpoint = ...``) was already copied into
        # the model when the file was read; the config's comments name the
        # explicit keys (``model.backbone.init_cfg.checkpoint=...``).
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def check_start_checkpoint(cfg: Config) -> None:
    """Refuse, before any work, a checkpoint the run would start from that
    is damaged, changed since it was saved or carries pickled objects.

    The file is ``load_from`` (``--resume PATH``, ``--continue-from PATH``
    or a config's ``load_from``), or, for ``--resume`` alone, the one the
    work directory's ``last_checkpoint`` names. It must be a complete torch
    zip file (a run killed while saving, or a partial copy, leaves a
    truncated one), load weights-only, and match the checksum that
    ``KDEPCheckpointHook`` recorded in it; a file without a checksum (older
    or not written by kdep_mm) is loaded with a warning that says so. URLs
    are left to mmengine.

    Raises:
        DamagedFileError: Naming the file, what is wrong and the earlier
            checkpoints to use instead.
        pickle.UnpicklingError: The file pickles objects (named; nothing
            is run).
    """
    path, verb = cfg.get('load_from'), 'load'
    if cfg.get('resume'):
        verb = 'resume from'
        marker = osp.join(cfg.work_dir, 'last_checkpoint')
        if path is None and osp.isfile(marker):
            with open(marker) as f:
                path = f.read().strip()
    if not path or path.startswith(('http://', 'https://')) or \
            not osp.isfile(path):
        return  # nothing to resume (a new run), or mmengine names it
    if not zipfile.is_zipfile(path):
        raise DamagedFileError(
            f'cannot {verb} {path}: the file {damage_of(path)}, not a '
            f'complete checkpoint. {earlier_checkpoints(path)}')
    try:
        obj = load_weights(path)
    except DamagedFileError as e:
        raise DamagedFileError(
            f'cannot {verb} {path}: {e.reason}. {earlier_checkpoints(path)}',
            reason=e.reason) from None
    if not has_checksum(obj):
        warnings.warn(
            f'{path} carries no checksum (saved before kdep_mm recorded one '
            'in every checkpoint, or by another tool): its tensors are used '
            'unverified',
            stacklevel=2)


def close_distributed() -> None:
    """End a distributed run cleanly: every rank reaches this point, then
    the process group is destroyed (not left to interpreter shutdown)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def offline_setup(args: argparse.Namespace):
    """What an offline tool over a pre-training config needs before its
    work (``tools/compute_basis.py``, ``tools/build_target_cache.py``): the
    config with the common arguments merged, the process group when a
    launcher is set, and the seed a training run would use.

    Returns:
        tuple: ``(cfg, seed)``.
    """
    import os

    import torch
    from mmengine.dist import init_dist
    from mmengine.runner import set_random_seed

    from ..compat import prepare_run
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = merge_common_args(Config.fromfile(args.config), args)
    prepare_run(cfg)
    if cfg.launcher != 'none' and not torch.distributed.is_initialized():
        init_dist(cfg.launcher, **cfg.get('env_cfg', {}).get('dist_cfg', {}))
    randomness = dict(cfg.get('randomness') or {})
    seed = randomness.get('seed')
    if seed is not None:
        seed = set_random_seed(
            seed,
            deterministic=randomness.get('deterministic', False),
            diff_rank_seed=randomness.get('diff_rank_seed', False))
    return cfg, seed
