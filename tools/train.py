"""Train with any config of kdep_mm: KDEP pre-training (mmpretrain scope)
or downstream mmdet / mmseg / mmpretrain fine-tuning (the config's
``default_scope`` decides).

    python tools/train.py configs/kdep/<config>.py [--amp] [--resume]
    python tools/train.py <fixed config> --continue-from <work_dir>/epoch_N.pth
    bash tools/dist_train.sh <config> <num_gpus> [args]
"""
import argparse
import os

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from kdep_mm.compat import prepare_run
from kdep_mm.engine import amp_optim_wrapper_cfg, use_safe_checkpoints
from kdep_mm.utils.cli import (add_common_args, check_start_checkpoint,
                               close_distributed, merge_common_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no value) from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--continue-from',
        metavar='CHECKPOINT',
        help='continue after fixing the config: like --resume CHECKPOINT '
        '(weights, loop position, momentum, random state), but learning '
        'rates, momentum, weight decay and schedules come from this config, '
        "stepped to the checkpoint's epoch / iteration")
    parser.add_argument(
        '--preflight',
        action='store_true',
        help='decode every training image once before the basis pass and '
        'stop, listing all unreadable files, if any is (KDEPBasisHook('
        'preflight=True))')
    parser.add_argument(
        '--skip-cache-check',
        action='store_true',
        help='a run from a target cache: skip the sha256 and finiteness '
        'check of every shard at start (for huge caches; presence, size and '
        'dtype are still checked)')
    parser.add_argument(
        '--basis-other-pool',
        metavar='REASON',
        help="use model.basis_file= although it was computed from other "
        'images than this run\'s (refused otherwise); REASON is logged '
        '(KDEPBasisHook(other_pool_reason=REASON))')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (bf16 where supported, else fp16 '
        'with dynamic loss scaling)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by actual / base batch size')
    add_common_args(parser)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper = amp_optim_wrapper_cfg(cfg.optim_wrapper)
    if args.preflight:
        hooks = [
            h for h in cfg.get('custom_hooks') or []
            if h.get('type') == 'KDEPBasisHook'
        ]
        if not hooks:
            raise SystemExit('--preflight: the config has no KDEPBasisHook '
                             'in custom_hooks (only KDEP pre-training runs '
                             'a basis pass)')
        for h in hooks:
            h['preflight'] = True
    for h in cfg.get('custom_hooks') or []:
        if h.get('type') == 'KDEPBasisHook':
            if args.skip_cache_check:
                h['cache_checksums'] = False
            if args.basis_other_pool:
                h['other_pool_reason'] = args.basis_other_pool
    if args.continue_from is not None:
        if args.resume is not None:
            raise SystemExit('--resume and --continue-from exclude each '
                             'other: --continue-from CKPT already resumes '
                             'CKPT (with the fixed config\'s optimiser '
                             'settings)')
        args.resume = args.continue_from
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='KDEPContinueHook', checkpoint=args.continue_from)
        ]
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    return merge_common_args(cfg, args)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    use_safe_checkpoints(cfg)
    check_start_checkpoint(cfg)
    prepare_run(cfg)
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    runner.train()
    close_distributed()


if __name__ == '__main__':
    main()
