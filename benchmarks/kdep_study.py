"""The evidence study: KDEP against supervised pre-training and the paper's
ablations, in miniature, on real data and a real ImageNet teacher.

    python benchmarks/kdep_study.py                  # everything, resumable
    python benchmarks/kdep_study.py --stage pretrain # only the pre-training
    python benchmarks/kdep_study.py --max-minutes 60 # stop cleanly after 60'
    python benchmarks/kdep_study.py --stage report   # table + figure so far

Every arm pre-trains the same ResNet-18 (``configs/study/``) for the same
budget B of images seen (supervised 100% also for 5B); then every arm,
from scratch included, is fine-tuned on the same downstream tasks with one
protocol (``configs/demo/``, run by :mod:`kdep_mm.demo.finetune`):

- a learning-rate grid per task, every value run with seed 0; the value
  with the best **val** score is kept and run again with seed 1 (task by
  task, so a stopped study leaves whole tasks);
- the test split is used only to report the two kept runs (mean and
  spread); classification keeps the best val epoch, detection and
  segmentation the final model.

Each pre-training run and each fine-tune keeps its result in the work
directory, so the study resumes where it stopped, across sessions. Several
processes may share the work directory to fine-tune in parallel (each unit
is claimed by one of them), e.g. on 2 CPU cores::

    OMP_NUM_THREADS=1 python benchmarks/kdep_study.py --stage finetune &
    OMP_NUM_THREADS=1 python benchmarks/kdep_study.py --stage finetune

The report (``docs/study_results.md``, ``docs/study_fig1.png``) is written
from whatever is finished, and says what is missing.
"""
import argparse
import glob
import os
import os.path as osp
import platform
import socket
import sys
import time
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

# isort: off
from kdep_mm.demo.finetune import (  # noqa: E402
    TASKS, dump_json, finetune, load_json, run_command)
from kdep_mm.demo.report import (  # noqa: E402
    METRIC_NAMES, read_scalars, run_seconds)
# isort: on

STUDY_CONFIGS = osp.join(ROOT, 'configs', 'study')

#: The arms: (name, label, pre-training config or None, kind).
ARMS: List[Dict] = [
    dict(name='scratch', label='from scratch', config=None, kind='none'),
    dict(
        name='kdep10',
        label='KDEP (SVD+PTS), 10%',
        config='kdep_mbv2-r18_pool-10pct.py',
        kind='kdep'),
    dict(
        name='sup10',
        label='supervised, 10%',
        config='sup_r18_pool-10pct.py',
        kind='sup'),
    dict(
        name='sup100',
        label='supervised, 100%',
        config='sup_r18_pool-100pct.py',
        kind='sup'),
    dict(
        name='sup100_5x',
        label='supervised, 100%, 5x budget',
        config='sup_r18_pool-100pct-5x.py',
        kind='sup'),
    dict(
        name='kdep100',
        label='KDEP (SVD+PTS), 100%',
        config='kdep_mbv2-r18_pool-100pct.py',
        kind='kdep'),
    dict(
        name='nopts10',
        label='SVD without PTS, 10%',
        config='svd-nopts_mbv2-r18_pool-10pct.py',
        kind='kdep'),
    dict(
        name='parametric10',
        label='parametric 1x1 alignment, 10%',
        config='parametric_mbv2-r18_pool-10pct.py',
        kind='kdep'),
    dict(
        name='logitkd10',
        label='logit KD, 10%',
        config='logitkd_mbv2-r18_pool-10pct.py',
        kind='kdep'),
]
ARM_NAMES = [a['name'] for a in ARMS]
#: Learning-rate grid of each task (every arm gets the same grid).
LR_GRID = dict(
    cls=(0.02, 0.05), mnist=(0.02, 0.05), det=(0.01, 0.02), seg=(0.02, 0.05))
DEFAULT_TASKS = ('cls', 'mnist', 'det', 'seg')


class OutOfTime(Exception):
    """The ``--max-minutes`` budget is spent (finished units are kept)."""


def banner(text: str) -> None:
    print(f'\n\033[1m=== {text} ===\033[0m', flush=True)


# -------------------------------------------------------------- pretraining
def images_per_epoch(config: str, data_root: str) -> int:
    """Training images of one epoch of a pre-training config."""
    from mmengine.config import Config
    ds = Config.fromfile(config).train_dataloader.dataset
    root = osp.join(data_root, 'pool')
    ann = ds.get('ann_file')
    if ann:
        with open(osp.join(root, ann)) as f:
            return sum(1 for line in f if line.strip())
    return len(os.listdir(osp.join(root, ds.data_prefix)))


def pretrain(args, arm: Dict) -> Optional[Dict]:
    """Pre-train one arm (resumable); return its record, or None for
    scratch."""
    if arm['config'] is None:
        return None
    work = osp.join(args.work_dir, 'pretrain', arm['name'])
    record_file = osp.join(work, 'pretrain.json')
    if osp.exists(record_file):
        return load_json(record_file)
    args.check_time()
    config = osp.join(STUDY_CONFIGS, arm['config'])
    from mmengine.config import Config
    epochs = int(Config.fromfile(config).train_cfg.max_epochs)
    opts = [f'data_root={args.data_root}']
    if args.quick:
        epochs = 1
        opts += [
            'train_cfg.max_epochs=1', 'param_scheduler.T_max=1',
            'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
            'train_dataloader.dataset.indices=64',
            'val_dataloader.dataset.indices=100'
        ]
    banner(f"pre-training {arm['label']}: {osp.relpath(config, ROOT)}")
    os.makedirs(work, exist_ok=True)
    cmd = [
        sys.executable, 'tools/train.py', config, '--work-dir', work,
        '--cfg-options'
    ] + opts
    if osp.exists(osp.join(work, 'last_checkpoint')):
        cmd.append('--resume')  # an interrupted run goes on
    run_command(cmd, osp.join(work, 'stage.log'))
    if arm['kind'] == 'kdep':
        found = glob.glob(osp.join(work, 'kdep_*-*.pth'))
        if not found:
            raise SystemExit(f'no exported student in {work}')
        checkpoint = max(found, key=osp.getmtime)
    else:
        with open(osp.join(work, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
    rows = read_scalars(work)
    last = {}
    for r in rows:
        if any(k.startswith(('kdep/', 'accuracy/')) for k in r):
            last = r
    per_epoch = (64 if args.quick else images_per_epoch(
        config, args.data_root))
    record = dict(
        arm=arm['name'],
        config=osp.relpath(config, ROOT),
        checkpoint=checkpoint,
        epochs=epochs,
        images_seen=epochs * per_epoch,
        seconds=run_seconds(work),
        final_val={
            k: v
            for k, v in last.items() if k.startswith(('kdep/', 'accuracy/'))
        })
    dump_json(record, record_file)
    print(f"{arm['label']}: {record['images_seen']} images seen in "
          f"{record['seconds']:.0f} s; val {record['final_val']}")
    return record


# ---------------------------------------------------------------- fine-tunes
def unit_dir(args, task: str, arm: str, lr: float, seed: int) -> str:
    return osp.join(args.work_dir, 'finetune', task, arm, f'lr{lr:g}_s{seed}')


def finetune_unit(args, task: str, arm: Dict, pre: Optional[Dict], lr: float,
                  seed: int) -> Dict:
    return finetune(
        unit_dir(args, task, arm['name'], lr, seed),
        TASKS[task],
        pre['checkpoint'] if pre else None,
        lr=lr,
        seed=seed,
        quick=args.quick,
        keep_checkpoints=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(work: str) -> bool:
    """Claim one fine-tune for this process (``<work>.lock`` beside it).

    Several study processes may share a work directory (e.g. two on two
    cores with ``OMP_NUM_THREADS=1``, or one per GPU): each unit is run by
    whoever claims it first. A lock left by a dead process on this host is
    taken over; one from another host is respected (delete it by hand if
    that host is gone).
    """
    lock = work + '.lock'
    me = f'{socket.gethostname()} {os.getpid()}'
    os.makedirs(osp.dirname(lock), exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(lock) as f:
                    host, _, pid = f.read().strip().rpartition(' ')
            except FileNotFoundError:
                continue  # released meanwhile
            if host != socket.gethostname() or not pid.isdigit() or \
                    _alive(int(pid)):
                return False
            os.remove(lock)  # stale: its process is gone
            continue
        with os.fdopen(fd, 'w') as f:
            f.write(me)
        return True
    return False


def release(work: str) -> None:
    if osp.exists(work + '.lock'):
        os.remove(work + '.lock')


def result_file(args, task: str, arm: str, lr: float, seed: int) -> str:
    return osp.join(unit_dir(args, task, arm, lr, seed), 'result.json')


def done(args, task: str, arm: str, lr: float, seed: int) -> bool:
    return osp.exists(result_file(args, task, arm, lr, seed))


def pending(args, task: str, arms: Sequence[Dict]):
    """The unfinished fine-tunes of one task, in run order: seed 0 over the
    grid for every arm, then the other seeds at the lr each arm's grid chose
    on val. Returns ``(units, waiting)``: ``units`` as ``(arm, lr, seed)``,
    ``waiting`` the later-seed units whose grid is not finished yet."""
    first = args.seeds[0]
    units = [(arm, lr, first) for arm in arms for lr in args.lr_grid[task]
             if not done(args, task, arm['name'], lr, first)]
    waiting = 0
    for seed in args.seeds[1:]:
        for arm in arms:
            chosen = collect(args, task, arm['name'])
            if chosen is None:
                waiting += 1
            elif not done(args, task, arm['name'], chosen['lr'], seed):
                units.append((arm, chosen['lr'], seed))
    return units, waiting


def finetune_all(args,
                 arms: Sequence[Dict],
                 pre: Dict[str, Optional[Dict]],
                 poll: float = 20.0) -> None:
    """Run every unfinished fine-tune, task by task (a stopped study leaves
    whole tasks), skipping units other study processes have claimed; wait
    only when every unit left is claimed or waits on a claimed one."""
    while True:
        ran = busy = False
        for task in args.tasks:
            units, waiting = pending(args, task, arms)
            busy = busy or waiting > 0
            for arm, lr, seed in units:
                args.check_time()
                work = unit_dir(args, task, arm['name'], lr, seed)
                if not claim(work):
                    busy = True
                    continue
                try:
                    banner(f"fine-tuning ({task}): {arm['name']}, lr {lr:g}, "
                           f'seed {seed}')
                    finetune_unit(args, task, arm, pre[arm['name']], lr, seed)
                finally:
                    release(work)
                ran = True
                break
            if ran:
                break  # plan again from the first task
        if not ran:
            if not busy:
                return
            time.sleep(poll)


def select_lr(grid_runs: Dict[float, Dict]) -> float:
    """The grid value with the best val score (ties: the smaller lr)."""
    return max(sorted(grid_runs), key=lambda lr: grid_runs[lr]['val'])


def collect(args, task: str, arm: str) -> Optional[Dict]:
    """The finished results of one (task, arm): the grid (seed 0), the
    chosen lr and its runs per seed; None if the grid is not finished."""
    grid = {}
    for lr in args.lr_grid[task]:
        f = result_file(args, task, arm, lr, args.seeds[0])
        if not osp.exists(f):
            return None
        grid[lr] = load_json(f)
    lr = select_lr(grid)
    runs = {args.seeds[0]: grid[lr]}
    for seed in args.seeds[1:]:
        f = result_file(args, task, arm, lr, seed)
        if osp.exists(f):
            runs[seed] = load_json(f)
    return dict(grid=grid, lr=lr, runs=runs)


# -------------------------------------------------------------------- report
def score(task: str, value: float) -> float:
    """A task's metric in percent (COCO mAP is a fraction)."""
    return 100.0 * value if TASKS[task]['metric'].startswith('coco/') \
        else value


def summarise(args, pre: Dict[str, Optional[Dict]]) -> Dict:
    """Mean / spread per arm and task, the average over tasks, and what is
    missing."""
    rows = []
    missing = []
    for arm in args.arms:
        row = dict(arm=arm['name'], label=arm['label'], tasks={})
        p = pre.get(arm['name'])
        row['hours'] = p['seconds'] / 3600 if p else 0.0
        row['images_seen'] = p['images_seen'] if p else 0
        for task in args.tasks:
            c = collect(args, task, arm['name'])
            if c is None or len(c['runs']) < len(args.seeds):
                missing.append(f"{task}/{arm['name']}")
            if c is None:
                continue
            by_seed = {s: score(task, r['test']) for s, r in c['runs'].items()}
            vals = list(by_seed.values())
            row['tasks'][task] = dict(
                by_seed=by_seed,
                mean=sum(vals) / len(vals),
                spread=(max(vals) - min(vals)) / 2,
                seeds=len(vals),
                lr=c['lr'],
                val=score(task, c['grid'][c['lr']]['val']),
                grid_val={
                    str(lr): score(task, r['val'])
                    for lr, r in c['grid'].items()
                })
        # the average over tasks (once every task has every seed) and its
        # seed-to-seed noise: half the range of the per-seed averages
        row['average'] = row['average_spread'] = None
        if all(row['tasks'].get(t, {}).get('seeds') == len(args.seeds)
               for t in args.tasks):
            per_seed = [
                sum(row['tasks'][t]['by_seed'][s]
                    for t in args.tasks) / len(args.tasks) for s in args.seeds
            ]
            row['average'] = sum(per_seed) / len(per_seed)
            row['average_spread'] = (max(per_seed) - min(per_seed)) / 2
        rows.append(row)
    return dict(rows=rows, missing=missing)


def task_header(task: str) -> str:
    t = TASKS[task]
    metric = METRIC_NAMES.get(t['metric'], t['metric'])
    if t['metric'].startswith('coco/'):
        metric += ' x100'
    return f"{t['data']}: {metric}"


def make_table(summary: Dict, tasks: Sequence[str]) -> str:
    head = ('| arm | pre-training (images seen, hours) | ' +
            ' | '.join(task_header(t) for t in tasks) + ' | average |')
    lines = [head, '|' + '---|' * (len(tasks) + 3)]
    for row in summary['rows']:
        cells = []
        for t in tasks:
            r = row['tasks'].get(t)
            if r is None:
                cells.append('-')
            else:
                note = '' if r['seeds'] > 1 else ' (1 seed)'
                cells.append(f"{r['mean']:.1f} +- {r['spread']:.1f}"
                             f"{note} (lr {r['lr']:g})")
        avg = row['average']
        n = row['images_seen']
        seen = f'{n / 1000:.0f}k' if n >= 1000 else str(n)
        pre = '-' if not n else f"{seen}, {row['hours']:.3f} h"
        avg = '-' if avg is None else \
            f"{avg:.1f} +- {row.get('average_spread') or 0:.1f}"
        lines.append(f"| {row['label']} | {pre} | " + ' | '.join(cells) +
                     f' | {avg} |')
    return '\n'.join(lines)


def plot_fig1(summary: Dict, out_file: str) -> Optional[str]:
    """Average downstream score against pre-training hours (log scale),
    in the style of the paper's Figure 1; scratch as a horizontal line;
    error bars: half the range of the per-seed averages."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    pts = [r for r in summary['rows'] if r['average'] is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    markers = dict(
        sup10='s',
        sup100='D',
        sup100_5x='D',
        kdep10='*',
        kdep100='*',
        logitkd10='^',
        parametric10='v',
        nopts10='o')
    colours = dict(
        sup10='tab:gray',
        sup100='tab:blue',
        sup100_5x='tab:blue',
        kdep10='tab:red',
        kdep100='darkred',
        logitkd10='tab:green',
        parametric10='tab:purple',
        nopts10='tab:orange')
    for r in pts:
        if r['arm'] == 'scratch':
            ax.axhline(r['average'], ls='--', c='k', lw=1, label=r['label'])
            continue
        ax.errorbar(
            r['hours'],
            r['average'],
            yerr=r.get('average_spread') or 0,
            ms=12 if markers.get(r['arm']) == '*' else 7,
            fmt=markers.get(r['arm'], 'o'),
            c=colours.get(r['arm'], 'k'),
            capsize=3,
            label=r['label'],
            zorder=3)
    sup = sorted((r for r in pts if r['arm'] in ('sup100', 'sup100_5x')),
                 key=lambda r: r['hours'])
    if len(sup) == 2:
        ax.plot([r['hours'] for r in sup], [r['average'] for r in sup],
                c='tab:blue',
                lw=1)
    ax.set_xscale('log')
    ax.set_xlabel('pre-training wall-clock (hours, log scale)')
    ax.set_ylabel('average downstream score')
    ax.set_title('KDEP study in miniature (ResNet-18 student)')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
    return out_file


def hardware() -> str:
    cpu = platform.processor() or 'CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    import torch
    gpu = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else 'no GPU')
    return f'{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}'


def write_markdown(summary: Dict, args, out_file: str) -> None:
    lines = [
        '# KDEP study: results table (written by benchmarks/kdep_study.py)',
        '', summary['table'], '', f"Hardware: {summary['hardware']}.",
        f"Command: `{summary['command']}`.",
        'Cells: test score, mean +- half the range over seeds '
        f"{summary['seeds']}, at the learning rate chosen on val with seed "
        f"{summary['seeds'][0]} from the grid " +
        ', '.join(f'{t}: {v}' for t, v in summary['lr_grid'].items()) +
        '. Average: the mean of the task columns (every column in %), +- '
        'half the range of the per-seed averages.', '',
        '| arm | config | images seen | pre-training s | final val |',
        '|---|---|---|---|---|'
    ]
    for name, p in summary['pretrain'].items():
        val = ', '.join(f'{k} {v:.3f}' for k, v in p['final_val'].items())
        lines.append(f"| {name} | `{p['config']}` | {p['images_seen']} | "
                     f"{p['seconds']:.0f} | {val} |")
    if summary['missing']:
        lines += ['', 'Not finished: ' + ', '.join(summary['missing']) + '.']
    with open(out_file, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def report(args, pre: Dict[str, Optional[Dict]]) -> Dict:
    banner('report')
    summary = summarise(args, pre)
    table = make_table(summary, args.tasks)
    fig = plot_fig1(summary, osp.join(args.out_dir, 'study_fig1.png'))
    summary.update(
        hardware=hardware(),
        command=' '.join(['python', 'benchmarks/kdep_study.py'] + args.argv),
        lr_grid={t: list(args.lr_grid[t])
                 for t in args.tasks},
        seeds=args.seeds,
        pretrain={
            k: v
            for k, v in pre.items() if v
        },
        table=table,
        figure=fig and osp.basename(fig))
    dump_json(summary, osp.join(args.out_dir, 'study_results.json'))
    write_markdown(summary, args, osp.join(args.out_dir, 'study_results.md'))
    print(table)
    if summary['missing']:
        print(f"not finished yet: {', '.join(summary['missing'])}")
    print(f"written: {osp.join(args.out_dir, 'study_results.json')}" +
          (f', {fig}' if fig else ''))
    return summary


# ---------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'study'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'demo'))
    parser.add_argument(
        '--out-dir',
        default=None,
        help='where study_results.{md,json} and study_fig1.png go '
        '(default: docs/, or the work directory with --quick)')
    parser.add_argument(
        '--stage',
        choices=('all', 'pretrain', 'finetune', 'report'),
        default='all')
    parser.add_argument(
        '--arms',
        default=','.join(ARM_NAMES),
        help=f'comma-separated, from {ARM_NAMES}')
    parser.add_argument(
        '--tasks',
        default=','.join(DEFAULT_TASKS),
        help=f'comma-separated, from {list(TASKS)}')
    parser.add_argument('--seeds', default='0,1')
    parser.add_argument(
        '--lr-grid',
        action='append',
        default=[],
        metavar='TASK=LR,LR',
        help='override a task\'s grid, e.g. --lr-grid det=0.01,0.02')
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
    names = [a.strip() for a in args.arms.split(',') if a.strip()]
    unknown = set(names) - set(ARM_NAMES)
    if unknown:
        parser.error(f'unknown arms {sorted(unknown)}; choose from '
                     f'{ARM_NAMES}')
    args.arms = [a for a in ARMS if a['name'] in names]
    args.tasks = [t.strip() for t in args.tasks.split(',') if t.strip()]
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


def main(argv=None):
    args = parse_args(argv)
    start = time.time()

    def check_time():
        if args.max_minutes is not None and \
                time.time() - start > 60 * args.max_minutes:
            raise OutOfTime

    args.check_time = check_time
    os.makedirs(args.work_dir, exist_ok=True)
    os.makedirs(args.out_dir, exist_ok=True)
    pre: Dict[str, Optional[Dict]] = {}
    try:
        if args.stage in ('all', 'pretrain', 'finetune'):
            banner('assets: real teacher and real images')
            run_command([
                sys.executable, 'tools/prepare_demo_assets.py', '--data-root',
                args.data_root
            ], osp.join(args.work_dir, 'assets.log'))
        for arm in args.arms:
            if args.stage in ('all', 'pretrain'):
                pre[arm['name']] = pretrain(args, arm)
            else:
                f = osp.join(args.work_dir, 'pretrain', arm['name'],
                             'pretrain.json')
                pre[arm['name']] = load_json(f) if osp.exists(f) else None
        if args.stage in ('all', 'finetune'):
            ready = [
                a for a in args.arms
                if a['config'] is None or pre.get(a['name'])
            ]
            finetune_all(args, ready, pre)
    except OutOfTime:
        print(f'\n--max-minutes {args.max_minutes:g} reached: stopping '
              'here; run the same command again to go on.')
    report(args, pre)
    print(f'study invocation: {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
