"""The study's numbers: each arm's mean / standard error per task over the
seeds, the average over tasks, the linear probes, the paired comparisons,
what is missing, and the results tables."""
from typing import Dict, Optional, Sequence

from ..finetune import TASKS
from .design import (MULTI_TEACHER, PAIRS, PRIMARY, PRIMARY_ALPHA, READOUTS,
                     arm_tasks)
from .probe import collect_probe, probe_tasks
from .stats import mean_se, paired, primary_family
from .units import collect


def score(task: str, value: float) -> float:
    """A task's metric in percent (COCO mAP is a fraction)."""
    return 100.0 * value if TASKS[task]['metric'].startswith('coco/') \
        else value


def _task_cell(task: str, c: Dict) -> Dict:
    by_seed = {s: score(task, r['test']) for s, r in c['runs'].items()}
    cell = mean_se(list(by_seed.values()))
    cell.update(
        by_seed=by_seed,
        seeds=len(by_seed),
        lr=c['lr'],
        zero_init_residual=c['zero_init_residual'],
        val=score(task, c['grid'][c['setting']]['val']),
        grid_val={
            '_'.join(str(v) for v in s if v is not None):
            score(task, r['val'])
            for s, r in c['grid'].items()
        })
    return cell


def finetune_tasks(tasks: Sequence[str]) -> list:
    """The tasks whose mean is the average (readouts stand beside it)."""
    return [t for t in tasks if t not in READOUTS]


def busy_note(record: Dict) -> Optional[str]:
    """Why a pre-training's wall-clock is not comparable with a quiet one's:
    the record's ``timing_note``, or a 5-minute load average at its end
    above 1.5x the cores (other work shared the CPU); None when quiet."""
    if record.get('timing_note'):
        return record['timing_note']
    load, cpus = record.get('load_average'), record.get('cpus')
    if load is not None and cpus and load > 1.5 * cpus:
        return f'load average {load:g} on {cpus} cores at its end'
    return None


def _probe_cell(runs: Dict[int, Dict]) -> Dict:
    """A probe's test accuracy over pre-training seeds (``test``: their
    mean) and the seeds whose L2 choice sits on an edge of the grid."""
    by_seed = {s: r['test'] for s, r in runs.items()}
    cell = mean_se(list(by_seed.values()))
    cell.update(
        by_seed=by_seed,
        test=cell['mean'],
        seeds=len(by_seed),
        edge={
            s: r['edge']
            for s, r in runs.items() if r.get('edge')
        },
        chosen={
            s: r['chosen']
            for s, r in runs.items()
        })
    return cell


def summarise(args, pre: Dict[str, Dict[int, Optional[Dict]]]) -> Dict:
    """Mean / standard error per arm and task, the average over tasks, the
    probes, the paired comparisons, the primary family and what is
    missing. ``pre[arm][seed]``: pre-training records (the table's
    pre-training time is seed 0's)."""
    rows = []
    missing = []
    for arm in args.arms:
        row = dict(arm=arm['name'], label=arm['label'], tasks={}, probes={})
        missing_before = len(missing)
        p = (pre.get(arm['name']) or {}).get(args.seeds[0])
        row['hours'] = p['seconds'] / 3600 if p else 0.0
        row['busy'] = busy_note(p) if p else None
        row['images_seen'] = p['images_seen'] if p else 0
        for task in arm_tasks(arm, args.tasks, getattr(args, 'pilot', False)):
            c = collect(args, task, arm['name'])
            if c is None or len(c['runs']) < len(args.seeds):
                missing.append(f"{task}/{arm['name']}")
            if c is not None:
                row['tasks'][task] = _task_cell(task, c)
        for task in probe_tasks(args.tasks):
            pr = collect_probe(args, task, arm['name'])
            if len(pr) < len(args.seeds):
                missing.append(f"probe/{task}/{arm['name']}")
            if pr:
                row['probes'][task] = _probe_cell(pr)
        # the average over tasks (once every task has every seed) and its
        # standard error over the per-seed averages
        # (readouts stand beside it, not in it)
        main = finetune_tasks(
            arm_tasks(arm, args.tasks, getattr(args, 'pilot', False)))
        row['average'] = row['average_se'] = row['average_by_seed'] = None
        if main and all(row['tasks'].get(t, {}).get('seeds') == len(args.seeds)
                        for t in main):
            per_seed = {
                s: sum(row['tasks'][t]['by_seed'][s] for t in main) / len(main)
                for s in args.seeds
            }
            avg = mean_se(list(per_seed.values()))
            row.update(
                average=avg['mean'],
                average_se=avg['se'],
                average_by_seed=per_seed)
        # every unit of the arm with every pre-training seed
        row['complete'] = len(missing) == missing_before
        rows.append(row)
    n = len(args.seeds)
    return dict(
        rows=rows,
        missing=missing,
        complete_arms=[r['arm'] for r in rows if r['complete']],
        n_seeds=n,
        paired=compare(rows, args.tasks),
        primary=primary(rows, PRIMARY, n),
        multi_teacher=primary(rows, MULTI_TEACHER, n))


def scores_by_seed(row: Dict, on: str) -> Optional[Dict]:
    """An arm's per-seed scores on ``on``: 'average', a task, or
    'probe:<task>'."""
    if on == 'average':
        return row['average_by_seed']
    if on.startswith('probe:'):
        return (row['probes'].get(on[6:]) or {}).get('by_seed')
    return (row['tasks'].get(on) or {}).get('by_seed')


def primary(rows, family: Sequence[Dict] = PRIMARY, n_seeds: int = 3) -> list:
    """A pre-registered family (:data:`PRIMARY`, or
    :data:`MULTI_TEACHER`) with Holm's correction over all its
    comparisons, once every one of them has ``n_seeds`` seeds (until then
    each is 'not finished': Holm over part of a family would correct for
    fewer comparisons than were registered)."""
    by_arm = {r['arm']: r for r in rows}
    items = []
    for c in family:
        a, b = by_arm.get(c['a']), by_arm.get(c['b'])
        sa = a and scores_by_seed(a, c['on'])
        sb = b and scores_by_seed(b, c['on'])
        items.append(dict(c, diff=paired(sa, sb) if sa and sb else None))
    if not all(it['diff'] and it['diff']['n'] >= n_seeds for it in items):
        return [dict(it, verdict='not finished') for it in items]
    return primary_family(items, PRIMARY_ALPHA)


def compare(rows, tasks: Sequence[str]) -> list:
    """The seed-paired differences of :data:`PAIRS` per task and on the
    average, and the probe differences (one number each: a probe has no
    seed)."""
    by_arm = {r['arm']: r for r in rows}
    out = []
    for a, b in PAIRS:
        if a not in by_arm or b not in by_arm:
            continue
        ra, rb = by_arm[a], by_arm[b]
        item = dict(a=a, b=b, tasks={}, probes={}, average=None)
        for t in tasks:
            if t in ra['tasks'] and t in rb['tasks']:
                item['tasks'][t] = paired(ra['tasks'][t]['by_seed'],
                                          rb['tasks'][t]['by_seed'])
        if ra['average_by_seed'] and rb['average_by_seed']:
            item['average'] = paired(ra['average_by_seed'],
                                     rb['average_by_seed'])
        for t in ra['probes']:
            if t in rb['probes']:
                item['probes'][t] = paired(ra['probes'][t]['by_seed'],
                                           rb['probes'][t]['by_seed'])
        out.append(item)
    return out
