"""The study's arms and their pre-training runs (resumable, one
``pretrain.json`` record per arm, kept in the work directory and in the
results directory).

The results directory outlives the work directory (it is under version
control), so a study may continue on a machine where the pre-trained
students are gone: the arm is pre-trained again and its final validation
scores must equal the recorded ones to the last digit (the pre-training is
seeded and runs the same on the same software), or the study stops rather
than mix fine-tunes of two different students."""
import glob
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

from .. import CONFIG_DIR, ROOT, DemoError
from ..cfg_options import (cached_pool_options, kdep_pool_options,
                           sup_pool_options)
from ..finetune import dump_json, load_json, run_command
from ..report import read_scalars, run_seconds
from .design import QUICK_OPTIONS

STUDY_CONFIGS = osp.join(CONFIG_DIR, 'study')
#: The validation scores a pre-training record keeps (held-out target R^2
#: of the distillers, top-1 of the supervised arms).
VAL_KEYS = ('kdep/', 'accuracy/')


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


def run_name(arm: Dict, seed: int) -> str:
    """The name of an arm's pre-training run with one seed: the arm's name
    for seed 0 (the study's first pre-training of every arm), else
    ``<arm>_p<seed>``."""
    return arm['name'] if seed == 0 else f"{arm['name']}_p{seed}"


def pretrain_options(arm: Dict,
                     data_root: str,
                     quick: bool,
                     seed: int = 0) -> List[str]:
    """The ``--cfg-options`` of one arm's pre-training run (seed 0: the
    configs' own ``randomness.seed``, which is 0)."""
    quick_options = QUICK_OPTIONS if quick else []
    if arm['kind'] == 'kdep':
        options = kdep_pool_options(data_root, arm.get('teacher',
                                                       'mobilenetv2'))
    elif arm['kind'] == 'cached':  # no teacher, no validation loaders
        options = cached_pool_options(data_root)
        quick_options = [
            o for o in quick_options
            if o.startswith(('train_dataloader', 'param_scheduler',
                             'train_cfg.max_epochs', 'default_hooks'))
        ]
    else:
        options = sup_pool_options(data_root)
    return options + quick_options + ([f'randomness.seed={seed}']
                                      if seed else [])


def budget_options(config: str, budget: int) -> List[str]:
    """The ``--cfg-options`` that run a pre-training config for ``budget``
    times its epochs: the epochs, the cosine's ``T_max``, and a validation
    (unless the config never validates) and a checkpoint every tenth of the
    run, as the budget pilot's ``-4x`` / ``-10x`` configs do."""
    if budget == 1:
        return []
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    before = int(cfg.train_cfg.max_epochs)
    epochs = before * budget
    every = max(1, epochs // 10)
    if not isinstance(cfg.param_scheduler, dict) or \
            'T_max' not in cfg.param_scheduler:
        raise DemoError(f'{config}: the budget option scales one cosine '
                        f'schedule\'s T_max, found {cfg.param_scheduler}')
    options = [
        f'train_cfg.max_epochs={epochs}', f'param_scheduler.T_max={epochs}',
        f'default_hooks.checkpoint.interval={every}'
    ]
    if cfg.train_cfg.get('val_interval', 1) <= before:
        options.append(f'train_cfg.val_interval={every}')
    return options


def student_digest(checkpoint: str) -> str:
    """The digest of the backbone tensors a fine-tune loads (an exported
    student holds only those; a runner checkpoint has them under
    ``backbone.``)."""
    from kdep_mm.utils.checkpoint import (get_state_dict, load_weights,
                                          tensors_digest)
    state = get_state_dict(load_weights(checkpoint))
    if any(k.startswith('backbone.') for k in state):
        state = get_state_dict(state, prefix='backbone.')
    return tensors_digest(state)


def record_file(args, arm: Dict, seed: int = 0) -> str:
    """Where the results directory keeps an arm's pre-training record."""
    return osp.join(args.results_dir, 'pretrain',
                    f'{run_name(arm, seed)}.json')


def check_same_student(new: Dict, recorded: Dict, arm: Dict) -> None:
    """A re-run pre-training must reproduce the recorded one exactly.

    Raises:
        DemoError: Its final validation, images seen or (where both
            records have it) the digest of the student's tensors differ.
    """
    keys = ('images_seen', 'final_val') + (
        ('student_digest', )
        if 'student_digest' in recorded and 'student_digest' in new else ())
    got = {k: new[k] for k in keys}
    want = {k: recorded[k] for k in keys}
    if got != want:
        why = (' (the recorded run was interrupted and resumed, which the '
               "study's persistent loader workers make inexact)"
               if recorded.get('resumed') else '')
        raise DemoError(
            f"pre-training arm {arm['name']} again gave {got} but the "
            f'results directory records {want}{why}: the recorded '
            'fine-tunes belong to another student. Use another '
            '--results-dir to start this arm afresh, or run on the software '
            'the record names.')


def local_record(args, arm: Dict, seed: int = 0) -> Optional[Dict]:
    """An arm's pre-training record without running anything: the results
    directory's (the reported run) with this machine's student file, or
    ``checkpoint`` None if the student is not here; None if neither
    directory has a record."""
    local = osp.join(args.work_dir, 'pretrain', run_name(arm, seed),
                     'pretrain.json')
    kept = record_file(args, arm, seed)
    here = load_json(local) if osp.exists(local) else None
    if not osp.exists(kept):
        return here
    return dict(load_json(kept), checkpoint=here and here['checkpoint'])


def pretrain(args, arm: Dict, seed: int = 0) -> Optional[Dict]:
    """Pre-train one arm with one seed (resumable); return its record, or
    None for scratch.

    Raises:
        DemoError: The run failed, left no student, or did not reproduce
            the record in the results directory.
    """
    if arm['config'] is None:
        return None
    work = osp.join(args.work_dir, 'pretrain', run_name(arm, seed))
    local = osp.join(work, 'pretrain.json')
    kept = record_file(args, arm, seed)
    recorded = load_json(kept) if osp.exists(kept) else None
    record = load_json(local) if osp.exists(local) else \
        _run_pretraining(args, arm, work, seed)
    if 'student_digest' not in record:  # a new run, or an older record
        record['student_digest'] = student_digest(record['checkpoint'])
        dump_json(record, local)
    if recorded is not None:
        check_same_student(record, recorded, arm)
        if 'student_digest' not in recorded:  # an older record, reproduced
            recorded['student_digest'] = record['student_digest']
            dump_json(recorded, kept)
        # the recorded run is the one reported (its wall-clock included);
        # this machine contributes the student file
        return dict(recorded, checkpoint=record['checkpoint'])
    dump_json(
        dict(record, checkpoint=osp.basename(record['checkpoint'])), kept)
    return record


def _build_cache(args, arm: Dict, work: str, seed: int) -> List[str]:
    """Build (or finish) the arm's target cache in ``<work>/cache`` from
    its source config, its crops drawn with the pre-training's seed;
    returns the options that point the arm at it. Its
    time is logged in ``cache.log`` and counted in the arm's wall-clock."""
    folder = osp.join(work, 'cache')
    source = osp.join(STUDY_CONFIGS, arm['cache']['source'])
    if not osp.isfile(osp.join(folder, 'manifest.json')):
        banner(f"target cache for {arm['name']}: {arm['cache']['crops']} "
               'crops per image')
        os.makedirs(work, exist_ok=True)
        start = time.time()
        run_command([
            sys.executable, 'tools/build_target_cache.py', source, '--out',
            folder, '--crops',
            str(arm['cache']['crops'])
        ] + (['--seed', str(seed)] if seed else []) + ['--cfg-options'] +
                    pretrain_options(dict(kind='kdep'), args.data_root, False),
                    osp.join(work, 'cache.log'))
        dump_json(
            dict(seconds=time.time() - start), osp.join(work, 'cache.json'))
    return [f'model.cache={folder}']


def _run_pretraining(args, arm: Dict, work: str, seed: int) -> Dict:
    args.check_time()
    config = osp.join(STUDY_CONFIGS, arm['config'])
    from mmengine.config import Config
    epochs = int(Config.fromfile(config).train_cfg.max_epochs)
    opts = pretrain_options(arm, args.data_root, args.quick, seed)
    if args.quick:
        epochs = 1
    elif args.budget != 1:
        epochs *= args.budget
        opts = budget_options(config, args.budget) + opts
    banner(f"pre-training {arm['label']}, seed {seed}: "
           f'{osp.relpath(config, ROOT)}' +
           (f', {args.budget}x its epochs' if args.budget != 1 else ''))
    os.makedirs(work, exist_ok=True)
    if arm.get('cache'):
        opts = opts + _build_cache(args, arm, work, seed)
    cmd = [
        sys.executable, 'tools/train.py', config, '--work-dir', work,
        '--cfg-options'
    ] + opts
    resumed = osp.exists(osp.join(work, 'last_checkpoint'))
    if resumed:
        cmd.append('--resume')  # an interrupted run goes on
    run_command(cmd, osp.join(work, 'stage.log'))
    if arm['kind'] in ('kdep', 'cached'):
        found = glob.glob(osp.join(work, 'kdep_*-*.pth'))
        if not found:
            raise DemoError(f'no exported student in {work}')
        checkpoint = max(found, key=osp.getmtime)
    else:
        with open(osp.join(work, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
    rows = read_scalars(work)
    curve = [
        dict({
            k: v
            for k, v in r.items() if k.startswith(VAL_KEYS)
        },
             step=r.get('step')) for r in rows if any(
                 k.startswith(VAL_KEYS) for k in r)
    ]
    last = curve[-1] if curve else {}
    per_epoch = (64 if args.quick else images_per_epoch(
        config, args.data_root))
    cache = osp.join(work, 'cache.json')  # a cached arm: its build counts
    cache_s = load_json(cache)['seconds'] if osp.exists(cache) else 0.0
    record = dict(
        arm=arm['name'],
        seed=seed,
        config=osp.relpath(config, ROOT),
        checkpoint=checkpoint,
        epochs=epochs,
        budget=args.budget,
        images_seen=epochs * per_epoch,
        seconds=run_seconds(work) + cache_s,
        cache_seconds=cache_s,
        # what else ran: the time is comparable only between quiet runs
        load_average=round(os.getloadavg()[1], 1),
        cpus=os.cpu_count(),
        final_val={
            k: v
            for k, v in last.items() if k != 'step'
        },
        val_curve=curve)
    if resumed:
        # persistent loader workers make a resume inexact (the log says
        # so): a re-run of this record will not reproduce it
        record['resumed'] = True
    print(f"{arm['label']}: {record['images_seen']} images seen in "
          f"{record['seconds']:.0f} s; val {record['final_val']}")
    return record
