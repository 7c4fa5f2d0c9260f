"""Evaluate a checkpoint with any config of kdep_mm.

    python tools/test.py <config> <checkpoint> [--work-dir DIR]
    bash tools/dist_test.sh <config> <checkpoint> <num_gpus> [args]
"""
import argparse
import os

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from kdep_mm.compat import prepare_run
from kdep_mm.utils.cli import (add_common_args, check_start_checkpoint,
                               close_distributed, merge_common_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the evaluation results to this pickle/json file')
    add_common_args(parser)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_common_args(cfg, args)
    cfg.load_from = args.checkpoint
    check_start_checkpoint(cfg)
    prepare_run(cfg)
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    metrics = runner.test()
    close_distributed()
    print(metrics)


if __name__ == '__main__':
    main()
