"""Compute a KDEP basis offline from a pre-training config.

    python tools/compute_basis.py configs/kdep/<config>.py \
        --out work_dirs/kdep_basis.pth [--num-images 10000] \
        [--cfg-options ...] [--launcher pytorch]

Calls the function ``KDEPBasisHook`` calls before training
(:func:`kdep_mm.basis.fit_basis`: the teacher over the training dataloader,
streaming float64 sums, eigendecomposition) on the config's model and
training dataloader, seeded as a training run is, and writes the same basis
file, for reuse with ``model.basis_file=...``.
"""
import argparse

import torch
from mmengine.dist import get_rank, is_main_process
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from kdep_mm.basis import fit_basis, save_model_basis
from kdep_mm.models import KDEP
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
        if not isinstance(model, KDEP):
            raise SystemExit(f'{args.config} does not build a KDEP model')
        if torch.cuda.is_available():
            model = model.cuda()
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        result = fit_basis(model, loader, args.num_images)
    if is_main_process():
        save_model_basis(model, result, args.out)
        print(f'basis written to {args.out} (rank {get_rank()})')


if __name__ == '__main__':
    main()
