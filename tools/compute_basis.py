"""Compute a KDEP basis offline from a pre-training config.

    python tools/compute_basis.py configs/kdep/<config>.py \
        --out work_dirs/kdep_basis.pth [--num-images 10000] \
        [--cfg-options ...] [--launcher pytorch]

Runs exactly what ``KDEPBasisHook`` runs before training (the teacher over
the training dataloader, streaming float64 sums, eigendecomposition) and
writes the same basis file, for reuse with ``model.basis_file=...``.
"""
import argparse
import os

# isort: off
import kdep_mm  # noqa: F401  (compat shims first)
# isort: on
from mmengine.config import Config
from mmengine.runner import Runner

from kdep_mm.engine.hooks import KDEPBasisHook
from kdep_mm.utils.cli import add_common_args, merge_common_args


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='basis file to write')
    parser.add_argument('--num-images', type=int, default=None)
    add_common_args(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    if args.work_dir is None and cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', 'compute_basis')
    cfg = merge_common_args(cfg, args)
    cfg.model.basis_file = None
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    hook = KDEPBasisHook(num_images=args.num_images, out_file=args.out)
    hook.before_train(runner)


if __name__ == '__main__':
    main()
