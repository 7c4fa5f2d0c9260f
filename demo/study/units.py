"""The study's fine-tune units, ``(task, arm, lr, seed)``: where each one's
result lives, who runs it (a claim per unit, so several processes can share
a work directory), in which order, and what the finished ones chose."""
import os
import os.path as osp
import socket
import time
from typing import Dict, Optional, Sequence

from ..finetune import TASKS, finetune, load_json
from .arms import banner


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
