"""The demo's stages (``python -m demo`` runs them in order, see
:mod:`demo.cli`): assets, KDEP pre-training, the downstream fine-tunes and
the report. The analysis stage is :mod:`demo.analysis`.

Each stage keeps its result in the work directory, so a second run reuses
finished stages and an interrupted one resumes. Library-like failures
raise :class:`demo.DemoError`.
"""
import glob
import os.path as osp
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from . import CONFIG_DIR, ROOT, DemoError
from .cfg_options import TEACHERS, kdep_pool_options
from .finetune import finetune, load_json
from .finetune import run_command as run
from .report import (kdep_wins, pretrain_curves, read_scalars, run_seconds,
                     score_line, write_results)

PRETRAIN_CONFIG = osp.join(CONFIG_DIR, 'pretrain',
                           TEACHERS['mobilenetv2']['config'])
#: What the banner calls each teacher.
TEACHER_NAMES = dict(
    mobilenetv2='ImageNet MobileNetV2', lite2='ImageNet EfficientNet-Lite2')


def pretrain_config(teacher: str = 'mobilenetv2') -> str:
    """The demo pre-training config of ``teacher`` (a key of TEACHERS)."""
    return osp.join(CONFIG_DIR, 'pretrain', TEACHERS[teacher]['config'])


DEFAULT_TASKS = ('cls', 'det', 'seg')
ARMS = ('kdep', 'scratch')


def banner(text: str) -> None:
    print(f'\n\033[1m=== {text} ===\033[0m', flush=True)


def stage_assets(args) -> dict:
    banner('1/7 assets: real teacher and real images')
    run([
        sys.executable, '-m', 'demo.prepare_assets', '--data-root',
        args.data_root
    ], osp.join(args.work_dir, 'assets.log'))
    return load_json(osp.join(args.data_root, 'index.json'))


def stage_pretrain(args) -> dict:
    teacher = getattr(args, 'teacher', 'mobilenetv2')
    banner(f'2/7 KDEP pre-training: {TEACHER_NAMES[teacher]} -> ResNet-18 '
           f'({args.pretrain_epochs} epochs, 6,000 unlabelled images)')
    work = osp.join(args.work_dir, 'pretrain')
    exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
    if exported:
        print(f'reusing the finished pre-training in {work}')
    else:
        n = args.pretrain_epochs
        cmd = [
            sys.executable, 'tools/train.py',
            pretrain_config(teacher), '--work-dir', work, '--cfg-options'
        ] + kdep_pool_options(args.data_root, teacher) + [
            f'train_cfg.max_epochs={n}', f'param_scheduler.T_max={n}'
        ]
        if osp.exists(osp.join(work, 'last_checkpoint')):
            cmd.append('--resume')  # an interrupted run goes on
        run(cmd, osp.join(args.work_dir, 'pretrain.log'))
        exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
        if not exported:
            raise DemoError(f'pre-training wrote no student file in {work}')
    rows = read_scalars(work)
    curves = pretrain_curves(rows)
    last = {}
    for r in rows:
        if 'kdep/r2' in r:
            last = r
    return dict(
        seconds=run_seconds(work),
        student=max(exported, key=osp.getmtime),
        work_dir=work,
        epochs=len(curves['epoch']),
        first_loss=curves['iter_loss'][0] if curves['iter_loss'] else None,
        last_epoch_loss=curves['loss'][-1] if curves['loss'] else None,
        r2={
            k: v
            for k, v in last.items() if k.startswith('kdep/')
        },
        basis=osp.join(work, 'kdep_basis.pth'))


#: The demo's own fine-tuning schedules, shorter than the configs' (which
#: are the evidence study's protocol and stay as they are), so that
#: ``make demo`` fits in 15 minutes on 2 cores; ``--full-schedules`` runs
#: the configs' schedules (ELPV 8 epochs, trees 6 epochs, glyphs 200
#: iterations).
DEMO_SCHEDULES = dict(
    cls=['train_cfg.max_epochs=5', 'param_scheduler.T_max=5'],
    mnist=[],
    det=[
        'train_cfg.max_epochs=4', 'train_cfg.val_interval=4',
        'param_scheduler.1.end=4', 'param_scheduler.1.T_max=4',
        'default_hooks.checkpoint.interval=4'
    ],
    seg=[
        'train_cfg.max_iters=120', 'train_cfg.val_interval=120',
        'param_scheduler.1.end=120', 'default_hooks.checkpoint.interval=120'
    ])


def demo_schedule(args, task: dict) -> list:
    """The ``--cfg-options`` of the demo's schedule for ``task``."""
    if getattr(args, 'full_schedules', False):
        return []
    return list(DEMO_SCHEDULES.get(task['name'], []))


def schedule_note(args) -> str:
    """The report's sentence on the fine-tuning schedules."""
    if getattr(args, 'full_schedules', False):
        return "Fine-tuning schedules: the configs' (the study's)."
    return ("Fine-tuning schedules: the demo's (" +
            '; '.join(f"{name}: {', '.join(opts)}"
                      for name, opts in DEMO_SCHEDULES.items()
                      if opts and name in args.tasks) +
            "; `--full-schedules` runs the "
            "configs' own).")


def run_arm(args, task: dict, arm: str, student: str, lr=None) -> dict:
    """Fine-tune one arm (KDEP student or scratch) on one task; a finished
    arm's result is reused (see :func:`demo.finetune.finetune`)."""
    name = arm if lr is None else f'{arm}_lr{lr:g}'
    return finetune(
        osp.join(args.work_dir, task['name'], name),
        task,
        student if arm == 'kdep' else None,
        lr=lr,
        quick=args.quick,
        run=run,
        options=demo_schedule(args, task))


def stage_downstream(args, index: int, task: dict, student: str) -> dict:
    """Both arms of one task (every learning rate of ``--lr-grid``), run
    ``args.jobs`` at a time (each with its share of the CPU threads)."""
    banner(f"{index}/7 {task['task']}: {task['data']} - KDEP student vs "
           'scratch')
    out = dict(
        task=task['task'],
        data=task['data'],
        metric=task['metric'],
        split='test')
    start = time.time()
    units = [(arm, lr) for arm in ARMS for lr in (args.lr_grid or [None])]
    with ThreadPoolExecutor(
            max_workers=max(1, getattr(args, 'jobs', 1))) as pool:
        futures = [
            pool.submit(run_arm, args, task, arm, student, lr)
            for arm, lr in units
        ]
        done = [f.result() for f in futures]  # re-raises a failed unit
    for arm in ARMS:
        runs = [r for (a, _), r in zip(units, done) if a == arm]
        if args.lr_grid:
            best = max(runs, key=lambda r: r['val'])  # chosen on val
            out[arm] = dict(best, grid={r['lr']: r['value'] for r in runs})
        else:
            out[arm] = runs[0]
    out['seconds'] = sum(out[arm].get('seconds', 0) for arm in ARMS)
    out['wall_seconds'] = time.time() - start
    return out


def _rel(path: str) -> str:
    rel = osp.relpath(path, ROOT)
    return path if rel.startswith('..') else rel


def stage_report(args, results: dict) -> str:
    banner('7/7 results')
    pre = results['pretrain']
    if args.lr_grid:
        lr_note = ('Learning rates: each arm searched over '
                   f'{args.lr_grid}, the best on val kept.')
    else:
        lr_note = ("Learning rates: each arm's own, fixed in its config, "
                   'not searched in this run; `--lr-grid` searches them on '
                   'val (`python -m demo.study` does so for every arm).')
    notes = [
        f"Pre-training: {pre['epochs']} epochs on 6,000 unlabelled "
        f"Fashion-MNIST images at 64 px; loss {pre['first_loss']:.2f} (first "
        f"iteration) -> {pre['last_epoch_loss']:.2f} (last epoch mean); "
        'held-out target R^2: ' +
        ', '.join(f'{k[5:]} {v:.3f}'
                  for k, v in sorted(pre['r2'].items())) + '.',
        'Every number is on the test split, with the model chosen on val '
        '(classification: the best epoch; detection and segmentation: the '
        'final model); one seed. ' + lr_note + ' ' + schedule_note(args),
        'Stage run times (s, when each stage ran; a reused stage keeps its '
        f"time): pre-training {pre['seconds']:.0f}, " +
        ', '.join(f"{t['task']} {t['seconds']:.0f} (KDEP "
                  f"{t['kdep'].get('seconds', 0):.0f} + scratch "
                  f"{t['scratch'].get('seconds', 0):.0f})"
                  for t in results['tasks']) +
        f"; this invocation {results['timings']['total']:.0f}.",
        f"Plots: `{_rel(results['analysis']['curves_png'])}`, "
        f"`{_rel(results['analysis']['spectrum_png'])}`.",
    ]
    table = write_results(args.work_dir, results, '\n\n'.join(notes))
    print(table)
    score = kdep_wins(results['tasks'])
    print('\n' + score_line(score))
    print('\n'.join(notes[:1] + notes[2:]))
    print(f"written to {osp.join(args.work_dir, 'results.md')} and "
          'results.json')
    return table
