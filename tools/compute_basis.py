"""Compute a KDEP basis offline from a pre-training config.

    python tools/compute_basis.py configs/kdep/<config>.py \
        --out work_dirs/kdep_basis.pth [--num-images 10000] \
        [--cfg-options ...] [--launcher pytorch]

Calls the function ``KDEPBasisHook`` calls before training
(:func:`kdep_mm.basis.ensure_basis`: here always one teacher pass over the
training dataloader, streaming float64 sums, eigendecomposition) on the
config's model and training dataloader, seeded as a training run is, and
writes the same basis file (with the pool's fingerprint), for reuse with
``model.basis_file=...``. An existing ``--out`` made for this teacher, tap
and pool is reused, as a training run reuses its own (delete it to
recompute).
"""
import argparse

import torch
from mmengine.dist import get_rank, is_main_process
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from kdep_mm.basis import ensure_basis
from kdep_mm.datasets.pool import dataset_paths, pool_id
from kdep_mm.models import Distiller
from kdep_mm.utils.cli import add_common_args, offline_setup


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='basis file to write')
    parser.add_argument('--num-images', type=int, default=None)
    add_common_args(parser)
    args = parser.parse_args(argv)
    cfg, seed = offline_setup(args)
    cfg.model.basis_file = None
    MMLogger.get_instance('kdep_compute_basis', log_level='INFO')
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
        if not isinstance(model, Distiller) or not model.basis_slots():
            raise SystemExit(f'{args.config} does not build a KDEP model '
                             'with a term that needs a basis')
        if torch.cuda.is_available():
            model = model.cuda()
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        ensure_basis(
            model,
            lambda: loader,
            work_file=args.out,
            data=pool_id(dataset_paths(loader.dataset), args.num_images),
            num_images=args.num_images)
    if is_main_process():
        print(f'basis written to {args.out} (rank {get_rank()})')


if __name__ == '__main__':
    main()
