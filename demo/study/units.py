"""The study's fine-tune units, ``(task, arm, setting, seed)``: where each
one's result lives, who runs it (a claim per unit, so several processes can
share a work directory), in which order, and what the finished ones chose.

A *setting* is one point of an arm's grid: ``(lr, zero_init_residual)``.
Pre-trained arms load every weight of the backbone, so only the learning
rate varies (``zero_init_residual`` is None); the scratch arm's grid also
has both values of ``zero_init_residual`` (the libraries' default, True,
and the pre-trained arms' student initialisation, False), chosen on val
like the learning rate.

A unit runs in the work directory (logs, checkpoints) and keeps its
``result.json`` in the results directory (``docs/study_runs/`` by default,
small files under version control), so a study continues across machines
whose work directories are gone.
"""
import os
import os.path as osp
import socket
import time
from typing import Dict, List, Optional, Sequence, Tuple

from ..finetune import TASKS, dump_json, finetune, load_json
from .arms import banner
from .design import SCRATCH_INITS, arm_tasks, pretrained

#: ``(lr, zero_init_residual or None)``.
Setting = Tuple[float, Optional[bool]]


def grid(args, task: str, arm: str) -> List[Setting]:
    """The settings an arm's seed-0 runs try on one task."""
    inits = SCRATCH_INITS if arm == 'scratch' else (None, )
    return [(lr, zir) for zir in inits for lr in args.lr_grid[task]]


def setting_name(setting: Setting) -> str:
    lr, zir = setting
    return f'lr{lr:g}' + ('' if zir is None else f'_zir{int(zir)}')


def unit_name(arm: str, setting: Setting, seed: int) -> str:
    """``<setting>_s<seed>``, and ``_p<seed>`` when the unit loads the
    student of pre-training seed ``seed`` > 0 (fine-tune seed s loads
    pre-training seed s; the study's first protocol loaded seed 0 for every
    fine-tune seed, and its ``_s1`` / ``_s2`` files stay as they were)."""
    tag = f'_p{seed}' if seed and pretrained(arm) else ''
    return f'{setting_name(setting)}_s{seed}{tag}'


def unit_dir(args, task: str, arm: str, setting: Setting, seed: int) -> str:
    return osp.join(args.work_dir, 'finetune', task, arm,
                    unit_name(arm, setting, seed))


def result_file(args, task: str, arm: str, setting: Setting, seed: int) -> str:
    return osp.join(args.results_dir, 'finetune', task, arm,
                    unit_name(arm, setting, seed) + '.json')


def finetune_unit(args, task: str, arm: Dict, pre: Optional[Dict],
                  setting: Setting, seed: int) -> Dict:
    """Run one unit (or reuse its finished work directory) and keep its
    result in the results directory."""
    lr, zir = setting
    options = [] if zir is None else \
        [f'model.backbone.zero_init_residual={zir}']
    res = finetune(
        unit_dir(args, task, arm['name'], setting, seed),
        TASKS[task],
        pre['checkpoint'] if pre else None,
        lr=lr,
        seed=seed,
        quick=args.quick,
        keep_checkpoints=False,
        options=options)
    res = dict(
        res,
        zero_init_residual=zir,
        pretrain_seed=seed if pre else None,
        student_digest=pre and pre.get('student_digest'))
    dump_json(res, result_file(args, task, arm['name'], setting, seed))
    return res


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


def done(args, task: str, arm: str, setting: Setting, seed: int) -> bool:
    return osp.exists(result_file(args, task, arm, setting, seed))


def select(grid_runs: Dict[Setting, Dict]) -> Setting:
    """The setting with the best val score (ties: the smaller lr, then
    ``zero_init_residual`` False before True)."""
    return max(
        sorted(grid_runs, key=lambda s: (s[0], bool(s[1]))),
        key=lambda s: grid_runs[s]['val'])


def collect(args, task: str, arm: str) -> Optional[Dict]:
    """The finished results of one (task, arm): the grid (seed 0), the
    chosen setting and its runs per seed; None if the grid is not
    finished."""
    runs_of_grid = {}
    for setting in grid(args, task, arm):
        f = result_file(args, task, arm, setting, args.seeds[0])
        if not osp.exists(f):
            return None
        runs_of_grid[setting] = load_json(f)
    chosen = select(runs_of_grid)
    runs = {args.seeds[0]: runs_of_grid[chosen]}
    for seed in args.seeds[1:]:
        f = result_file(args, task, arm, chosen, seed)
        if osp.exists(f):
            runs[seed] = load_json(f)
    return dict(
        grid=runs_of_grid,
        setting=chosen,
        lr=chosen[0],
        zero_init_residual=chosen[1],
        runs=runs)


def ready(pre: Dict, arm: Dict, seed: int) -> bool:
    """Whether the student a unit of ``seed`` loads is here (scratch: no
    student needed)."""
    return arm['config'] is None or bool(
        ((pre.get(arm['name']) or {}).get(seed) or {}).get('checkpoint'))


def pending(args, task: str, arms: Sequence[Dict], pre: Dict):
    """The unfinished fine-tunes of one task, in run order: seed 0 over the
    grid for every arm, then the other seeds at the setting each arm's grid
    chose on val. Returns ``(units, waiting)``: ``units`` as ``(arm,
    setting, seed)``, ``waiting`` the later-seed units whose grid is not
    finished yet. Units whose pre-trained student is not here are left
    out (the report lists them as missing)."""
    arms = [
        a for a in arms
        if task in arm_tasks(a, args.tasks, getattr(args, 'pilot', False))
    ]
    first = args.seeds[0]
    units = [(arm, setting, first) for arm in arms if ready(pre, arm, first)
             for setting in grid(args, task, arm['name'])
             if not done(args, task, arm['name'], setting, first)]
    waiting = 0
    for seed in args.seeds[1:]:
        for arm in arms:
            if not ready(pre, arm, seed):
                continue
            chosen = collect(args, task, arm['name'])
            if chosen is None:
                waiting += 1
            elif not done(args, task, arm['name'], chosen['setting'], seed):
                units.append((arm, chosen['setting'], seed))
    return units, waiting


def finetune_all(args,
                 arms: Sequence[Dict],
                 pre: Dict[str, Dict[int, Optional[Dict]]],
                 poll: float = 20.0) -> None:
    """Run every unfinished fine-tune, task by task (a stopped study leaves
    whole tasks), skipping units other study processes have claimed; wait
    only when every unit left is claimed or waits on a claimed one.
    ``pre[arm][seed]``: the pre-training record fine-tune seed ``seed``
    loads."""
    while True:
        ran = busy = False
        for task in args.tasks:
            units, waiting = pending(args, task, arms, pre)
            busy = busy or waiting > 0
            for arm, setting, seed in units:
                args.check_time()
                work = unit_dir(args, task, arm['name'], setting, seed)
                if not claim(work):
                    busy = True
                    continue
                try:
                    banner(f"fine-tuning ({task}): {arm['name']}, "
                           f'{setting_name(setting)}, seed {seed}')
                    finetune_unit(args, task, arm, (pre.get(arm['name'])
                                                    or {}).get(seed), setting,
                                  seed)
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
