"""One downstream fine-tune of a (pre-trained or random) ResNet-18, as run by
the demo (``python -m demo``) and the evidence study
(``python -m demo.study``).

A fine-tune is ``tools/train.py`` on a config of ``demo/configs/finetune/``
(train, validate), then ``tools/test.py`` on the test split with the model
chosen on val (classification: the best epoch; detection / segmentation:
the final model). Its result is a ``result.json`` in its work directory, so
a finished fine-tune is reused and an interrupted one starts over.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

from kdep_mm.utils.fileio import atomic_write
from . import CONFIG_DIR, ROOT, DemoError
from .cfg_options import checkpoint_options

FINETUNE_CONFIGS = osp.join(CONFIG_DIR, 'finetune')

#: The downstream tasks. ``config`` is formatted with ``arm`` = ``kdep``
#: (a pre-trained backbone is loaded, :func:`checkpoint_options`) or
#: ``scratch`` (random initialisation);
#: ``select`` is how the tested model is chosen on val.
TASKS: Dict[str, Dict] = dict(
    cls=dict(
        task='classification',
        data='ELPV defective vs functional',
        config='cls_r18_elpv-64px_{arm}.py',
        metric='accuracy/top1',
        select='best',
        quick=[
            'train_cfg.max_epochs=1', 'param_scheduler.T_max=1',
            'train_dataloader.dataset.indices=128',
            'val_dataloader.dataset.indices=64',
            'test_dataloader.dataset.indices=64'
        ]),
    mnist=dict(
        task='classification',
        data='MNIST-5k digits',
        config='cls_r18_mnist5k-64px_{arm}.py',
        metric='accuracy/top1',
        select='best',
        quick=[
            'train_cfg.max_epochs=1', 'param_scheduler.T_max=1',
            'train_dataloader.dataset.indices=128',
            'val_dataloader.dataset.indices=64',
            'test_dataloader.dataset.indices=64'
        ]),
    det=dict(
        task='detection',
        data='NEON trees, Faster R-CNN',
        config='det_faster-rcnn_r18_fpn_trees-256px_{arm}.py',
        metric='coco/bbox_mAP',
        select='last',
        quick=[
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1',
            'train_dataloader.dataset.indices=8',
            'val_dataloader.dataset.indices=4',
            'test_dataloader.dataset.indices=4'
        ]),
    seg=dict(
        task='segmentation',
        data='glyphs on photos, Semantic FPN',
        config='seg_fpn_r18_glyphs-128px_{arm}.py',
        metric='mIoU',
        select='last',
        quick=[
            'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
            'default_hooks.checkpoint.interval=4',
            'val_dataloader.dataset.indices=4',
            'test_dataloader.dataset.indices=4'
        ]),
)
#: The study's frozen-backbone readout: the segmentation task with the
#: backbone frozen (stem and all four stages, BatchNorm in eval mode), so
#: only the FPN and the head learn; it reads what the pre-training put in
#: the backbone's multi-scale features.
TASKS['segfrozen'] = dict(
    TASKS['seg'],
    data='glyphs on photos, frozen backbone',
    options=[
        'model.backbone.frozen_stages=4', 'model.backbone.norm_eval=True'
    ])
for _name, _task in TASKS.items():
    _task['name'] = _name

#: How :func:`run_command` runs commands: ``echo`` their output to the
#: console (False: only to the log), ``threads`` per command
#: (``OMP_NUM_THREADS``; None: the library default), and a ``progress``
#: (:class:`demo.progress.Progress`) fed with their output. The demo sets
#: them once before its stages; the study keeps the defaults.
RUN_SETTINGS = dict(echo=True, threads=None, progress=None)


def _library_noise(line: str) -> bool:
    return ('Warning' in line or 'warnings.warn' in line
            or '_bootstrap' in line or 'import pkg_resources' in line)


def run_command(cmd: Sequence[str], log_file: str) -> None:
    """Run a command from the repository root, appending its output to
    ``log_file`` and, as :data:`RUN_SETTINGS` says, echoing it (minus
    library warnings) or feeding it to the progress line.

    Raises:
        DemoError: The command failed.
    """
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    if RUN_SETTINGS['threads']:
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(
            RUN_SETTINGS['threads'])
    progress = RUN_SETTINGS['progress']
    name = osp.basename(osp.dirname(log_file)) if osp.basename(
        log_file) == 'stage.log' else osp.splitext(osp.basename(log_file))[0]
    with open(log_file, 'a') as log:
        proc = subprocess.Popen(
            list(cmd),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True)
        for line in proc.stdout:
            log.write(line)
            if progress is not None:
                progress.runner_line(name, line)
            if RUN_SETTINGS['echo'] and not _library_noise(line):
                sys.stdout.write(line)
                sys.stdout.flush()
    if proc.wait() != 0:
        raise DemoError(f'stage failed: {" ".join(cmd)} (log: {log_file})')


def load_json(path: str):
    with open(path) as f:
        return json.load(f)


def dump_json(obj, path: str) -> None:
    """Write atomically: a result file is complete or absent."""
    atomic_write(path, json.dumps(obj, indent=1))


def task_config(task: Dict, pretrained: bool) -> str:
    return osp.join(
        FINETUNE_CONFIGS,
        task['config'].format(arm='kdep' if pretrained else 'scratch'))


_CONFIG_LOCK = threading.Lock()


def config_lr(config: str) -> float:
    """The learning rate a config sets. Parsed under a lock: the demo runs
    arms in threads, and mmengine's scoped ``_base_`` lookup (through
    ``pkg_resources``) is not thread-safe."""
    from mmengine.config import Config
    with _CONFIG_LOCK:
        return float(Config.fromfile(config).optim_wrapper.optimizer.lr)


def _val_curve(work: str, metric: str) -> List[float]:
    from .report import read_scalars
    return [r[metric] for r in read_scalars(work) if metric in r]


def _tested_checkpoint(work: str, select: str) -> str:
    if select == 'best':
        found = glob.glob(osp.join(work, 'best_*.pth'))
    else:
        marker = osp.join(work, 'last_checkpoint')
        found = [open(marker).read().strip()] if osp.exists(marker) else []
    if not found or not osp.exists(found[0]):
        raise DemoError(f'no {select} checkpoint in {work}')
    return found[0]


def finetune(work: str,
             task: Dict,
             checkpoint: Optional[str],
             lr: Optional[float] = None,
             seed: Optional[int] = None,
             quick: bool = False,
             keep_checkpoints: bool = True,
             run=None,
             options: Sequence[str] = ()) -> Dict:
    """Fine-tune and test one model on one task; reuse a finished result.

    Args:
        work (str): Work directory of this fine-tune.
        task (dict): One of :data:`TASKS`.
        checkpoint (str, optional): The pre-trained backbone (an exported
            student or a runner checkpoint with ``backbone.`` keys); None:
            from scratch.
        lr (float, optional): Learning rate (None: the config's).
        seed (int, optional): ``randomness.seed`` (None: the config's).
        quick (bool): A few iterations only (a smoke test).
        keep_checkpoints (bool): Keep the fine-tune's ``.pth`` files (False:
            delete them once the result is written; logs stay).
        run (callable, optional): ``run(cmd, log_file)``; default
            :func:`run_command`.
        options (Sequence[str]): More ``--cfg-options`` (the demo's shorter
            schedules).

    Returns:
        dict: ``val`` (the selection score), ``test`` (= ``value``), ``lr``,
        ``seed``, ``val_curve``, ``seconds``, ``config``.

    Raises:
        DemoError: A run failed or left no metric / checkpoint.
    """
    run = run or run_command
    result_file = osp.join(work, 'result.json')
    if osp.exists(result_file):
        res = load_json(result_file)
        print(f"reusing {osp.relpath(work, ROOT)}: {task['metric']} = "
              f"{res['value']:.4g} ({res['seconds']:.0f} s)")
        return res
    if osp.isdir(work):  # an interrupted fine-tune starts over
        shutil.rmtree(work)
    os.makedirs(work)
    config = task_config(task, checkpoint is not None)
    opts = checkpoint_options(checkpoint) if checkpoint else []
    if lr is not None:
        opts.append(f'optim_wrapper.optimizer.lr={lr}')
    if seed is not None:
        opts.append(f'randomness.seed={seed}')
    opts += list(task.get('options', ())) + list(options)
    if quick:
        opts += task['quick']
    print(f"--- {task['task']} ({task['data']}): "
          f"{osp.relpath(config, ROOT)} {' '.join(opts)}")
    start = time.time()
    log = osp.join(work, 'stage.log')
    train_cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work]
    run(train_cmd + (['--cfg-options'] + opts if opts else []), log)
    vals = _val_curve(work, task['metric'])
    if not vals:
        raise DemoError(f"no {task['metric']} logged in {work}")
    tested = _tested_checkpoint(work, task['select'])
    test_work = osp.join(work, 'test')
    run([
        sys.executable, 'tools/test.py', config, tested, '--work-dir',
        test_work
    ] + (['--cfg-options'] + opts if opts else []), log)
    files = sorted(glob.glob(osp.join(test_work, '*', '*.json')))
    if not files:
        raise DemoError(f'tools/test.py wrote no metrics in {test_work}')
    test = load_json(files[-1]).get(task['metric'])
    if test is None:
        raise DemoError(f"no {task['metric']} in {files[-1]}")
    res = dict(
        config=osp.relpath(config, ROOT),
        lr=lr if lr is not None else config_lr(config),
        seed=seed,
        val_curve=vals,
        val=max(vals) if task['select'] == 'best' else vals[-1],
        tested_checkpoint=osp.basename(tested),
        test=test,
        value=test,
        seconds=time.time() - start)
    dump_json(res, result_file)
    if not keep_checkpoints:
        for path in glob.glob(osp.join(work, '*.pth')):
            os.remove(path)
    print(f"{task['task']}: {task['metric']} val {res['val']:.4g}, test "
          f"{test:.4g} ({res['seconds']:.0f} s)")
    return res
