"""The study's arms and their pre-training runs (resumable, one
``pretrain.json`` record per arm)."""
import glob
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from .. import CONFIG_DIR, ROOT, DemoError
from ..cfg_options import kdep_pool_options, sup_pool_options
from ..finetune import dump_json, load_json, run_command
from ..report import read_scalars, run_seconds

STUDY_CONFIGS = osp.join(CONFIG_DIR, 'study')

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
#: The ``--cfg-options`` that point each kind of arm at the data root.
DATA_OPTIONS = dict(kdep=kdep_pool_options, sup=sup_pool_options)
#: ``--quick``: 1 epoch on 64 images (the val loader's copy in
#: ``test_dataloader`` gets the same subset).
QUICK_OPTIONS = [
    'train_cfg.max_epochs=1', 'param_scheduler.T_max=1',
    'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
    'train_dataloader.dataset.indices=64',
    'val_dataloader.dataset.indices=100', 'test_dataloader.dataset.indices=100'
]


class OutOfTime(Exception):
    """The ``--max-minutes`` budget is spent (finished units are kept)."""


def banner(text: str) -> None:
    print(f'\n\033[1m=== {text} ===\033[0m', flush=True)


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


def pretrain_options(arm: Dict, data_root: str, quick: bool) -> List[str]:
    """The ``--cfg-options`` of one arm's pre-training run."""
    return DATA_OPTIONS[arm['kind']](data_root) + (
        QUICK_OPTIONS if quick else [])


def pretrain(args, arm: Dict) -> Optional[Dict]:
    """Pre-train one arm (resumable); return its record, or None for
    scratch.

    Raises:
        DemoError: The run failed or left no student.
    """
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
    if args.quick:
        epochs = 1
    opts = pretrain_options(arm, args.data_root, args.quick)
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
            raise DemoError(f'no exported student in {work}')
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
