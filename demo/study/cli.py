"""``python -m demo.study``: the evidence study's command line (run from
the repository root; see :mod:`demo.study`)."""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Dict, Optional

from .. import ROOT, DemoError
from ..finetune import TASKS, run_command
from .arms import OutOfTime, banner, local_record, pretrain
from .design import (ARM_BY_NAME, ARMS, BUDGET, DEFAULT_TASKS, LR_GRID, PILOT,
                     PILOT_ARMS, study_arms)
from .pilot import pilot_report
from .probe import PROBE_TASKS, probe_all
from .report import report
from .units import finetune_all

#: The pilot's tasks: the probes' and its fine-tune's.
PILOT_TASKS = tuple(PROBE_TASKS) + tuple(PILOT['finetune'])
#: The study's own work directory (the committed results belong to it).
WORK_DIR = osp.join(ROOT, 'work_dirs', 'study')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m demo.study',
        description='The evidence study: KDEP against supervised '
        "pre-training and the paper's ablations, in miniature, on real data "
        'and a real ImageNet teacher.')
    parser.add_argument('--work-dir', default=WORK_DIR)
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'demo'))
    parser.add_argument(
        '--results-dir',
        default=None,
        help='where every finished unit keeps its result file, under '
        'version control so the study continues on another machine '
        '(default: docs/study_runs with the default --work-dir and no '
        '--quick; else <work-dir>/runs)')
    parser.add_argument(
        '--out-dir',
        default=None,
        help='where study_results.{md,json} and study_fig1.png go '
        '(default: docs/, or the work directory with --quick)')
    parser.add_argument(
        '--stage',
        choices=('all', 'pretrain', 'probe', 'finetune', 'report'),
        default='all')
    parser.add_argument(
        '--arms',
        default=None,
        help=f'comma-separated, from {list(ARM_BY_NAME)} (default: '
        'the study\'s arms at --budget; with --pilot the pilot\'s)')
    parser.add_argument(
        '--budget',
        type=int,
        default=None,
        help='pre-train every arm for this many times its config\'s epochs '
        f'(default {BUDGET}, decided by the pilot; 1: the study before it, '
        'kept in work_dirs/study and docs/study_runs; else '
        'work_dirs/study_<budget>x, docs/study_runs/<budget>x, and its report '
        f'is study_results_<budget>x unless it is {BUDGET})')
    parser.add_argument(
        '--pilot',
        action='store_true',
        help='the budget pilot: KDEP-10%% and supervised-10%% at 1x, 4x '
        'and 10x the budget, scratch beside them; the probes and the '
        f"{'/'.join(PILOT['finetune'])} fine-tune; its report goes to "
        'study_pilot.{md,json}')
    parser.add_argument(
        '--tasks',
        default=None,
        help=f'comma-separated, from {list(TASKS)} (default: '
        f'{list(DEFAULT_TASKS)}; with --pilot {list(PILOT_TASKS)})')
    parser.add_argument(
        '--seeds',
        default='0,1,2',
        help='fine-tune seed s loads the student of pre-training seed s')
    parser.add_argument(
        '--lr-grid',
        action='append',
        default=[],
        metavar='TASK=LR,LR',
        help='override a task\'s grid, e.g. --lr-grid det=0.01,0.02')
    parser.add_argument(
        '--reproduce',
        action='store_true',
        help='pre-train again the runs the results directory records but '
        'whose students are not in the work directory (each must reproduce '
        'its record exactly: the same software and CPU family); without it '
        'their pending units are listed as missing')
    parser.add_argument(
        '--max-minutes',
        type=float,
        default=None,
        help='start no new unit after this many minutes (resume later)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='1 epoch on 64 images per arm, a few iterations per fine-tune '
        '(a smoke test; the numbers mean nothing)')
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    args.out_dir = osp.abspath(
        args.out_dir
        or (args.work_dir if args.quick else osp.join(ROOT, 'docs')))
    if args.pilot and args.budget not in (None, 1):
        parser.error('--pilot sets its own budgets; leave out --budget')
    args.budget = 1 if args.pilot else (args.budget or BUDGET)
    # the study's own folders: the pilot's, or one per budget
    tag = 'pilot' if args.pilot else (
        f'{args.budget}x' if args.budget != 1 else '')
    if args.work_dir == WORK_DIR and tag:
        args.work_dir = f'{WORK_DIR}_{tag}'
    own = not args.quick and args.work_dir == (f'{WORK_DIR}_{tag}'
                                               if tag else WORK_DIR)
    kept = osp.join(ROOT, 'docs', 'study_runs', tag)
    args.results_dir = osp.abspath(
        args.results_dir or (kept if own else osp.join(args.work_dir, 'runs')))
    args.report_suffix = '' if args.budget == BUDGET else f'_{args.budget}x'
    pilot = [PILOT['reference']
             ] + [n for names in PILOT['arms'].values() for n in names]
    arms = [a['name'] for a in study_arms(args.budget)]
    default = pilot if args.pilot else arms
    names = [
        a.strip() for a in (args.arms or ','.join(default)).split(',')
        if a.strip()
    ]
    unknown = set(names) - set(ARM_BY_NAME)
    if unknown:
        parser.error(f'unknown arms {sorted(unknown)}; choose from '
                     f'{list(ARM_BY_NAME)}')
    allowed = set(arms) | {a['name']
                           for a in PILOT_ARMS
                           if args.budget == 1}  # a pilot arm: its budget
    if not args.pilot and set(names) - allowed:
        parser.error(f'arms {sorted(set(names) - allowed)} are not run at '
                     f'--budget {args.budget} (its arms: {arms})')
    args.arms = [a for a in ARMS + PILOT_ARMS if a['name'] in names]
    tasks = args.tasks or ','.join(
        PILOT_TASKS if args.pilot else DEFAULT_TASKS)
    args.tasks = [t.strip() for t in tasks.split(',') if t.strip()]
    unknown = set(args.tasks) - set(TASKS)
    if unknown:
        parser.error(f'unknown tasks {sorted(unknown)}; choose from '
                     f'{list(TASKS)}')
    args.seeds = [int(s) for s in args.seeds.split(',')]
    grid = dict(LR_GRID)
    for item in args.lr_grid:
        task, _, values = item.partition('=')
        if task not in TASKS or not values:
            parser.error(f'--lr-grid wants TASK=LR[,LR...], got {item!r}')
        grid[task] = tuple(float(v) for v in values.split(','))
    args.lr_grid = grid
    return args


def run_study(args) -> Dict:
    """The requested stages, then the report (also after ``--max-minutes``
    stopped them); returns the report's summary.

    Raises:
        DemoError: A pre-training or fine-tune failed.
    """
    start = time.time()

    def check_time():
        if args.max_minutes is not None and \
                time.time() - start > 60 * args.max_minutes:
            raise OutOfTime

    args.check_time = check_time
    os.makedirs(args.work_dir, exist_ok=True)
    os.makedirs(args.out_dir, exist_ok=True)
    pre: Dict[str, Dict[int, Optional[Dict]]] = {
        a['name']: {}
        for a in args.arms
    }
    try:
        if args.stage in ('all', 'pretrain', 'probe', 'finetune'):
            banner('assets: real teacher and real images')
            run_command([
                sys.executable, '-m', 'demo.prepare_assets', '--data-root',
                args.data_root
            ], osp.join(args.work_dir, 'assets.log'))
        for arm in args.arms:  # what is here already
            for seed in args.seeds:
                pre[arm['name']][seed] = local_record(args, arm, seed)
        if args.stage in ('all', 'pretrain'):
            for seed in args.seeds:  # every arm's seed 0 first
                for arm in args.arms:
                    p = pre[arm['name']][seed]
                    if p is None or args.reproduce:
                        pre[arm['name']][seed] = pretrain(args, arm, seed)
        if args.stage in ('all', 'probe'):
            probe_all(args, args.arms, pre)
        if args.stage in ('all', 'finetune'):
            finetune_all(args, args.arms, pre)
    except OutOfTime:
        print(f'\n--max-minutes {args.max_minutes:g} reached: stopping '
              'here; run the same command again to go on.')
    summary = pilot_report(args, pre) if args.pilot else report(args, pre)
    print(f'study invocation: {time.time() - start:.0f} s')
    return summary


def main(argv=None) -> int:
    """0 when the requested stages finished (or the time budget stopped
    them cleanly), 1 (and the reason on stderr) when one failed."""
    args = parse_args(argv)
    try:
        run_study(args)
    except DemoError as e:
        print(e, file=sys.stderr)
        return 1
    return 0
