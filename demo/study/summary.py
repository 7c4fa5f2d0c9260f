"""The study's numbers: each arm's mean / standard error per task over the
seeds, the average over tasks, the linear probes, the paired comparisons,
what is missing, and the results tables."""
from typing import Dict, Optional, Sequence

from ..finetune import TASKS
from ..report import METRIC_NAMES
from .design import PAIRS, READOUTS
from .probe import PROBE_TASKS, collect_probe
from .stats import mean_se, paired
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


def summarise(args, pre: Dict[str, Optional[Dict]]) -> Dict:
    """Mean / standard error per arm and task, the average over tasks, the
    probes, the paired comparisons and what is missing."""
    rows = []
    missing = []
    for arm in args.arms:
        row = dict(arm=arm['name'], label=arm['label'], tasks={}, probes={})
        p = pre.get(arm['name'])
        row['hours'] = p['seconds'] / 3600 if p else 0.0
        row['busy'] = busy_note(p) if p else None
        row['images_seen'] = p['images_seen'] if p else 0
        for task in args.tasks:
            c = collect(args, task, arm['name'])
            if c is None or len(c['runs']) < len(args.seeds):
                missing.append(f"{task}/{arm['name']}")
            if c is not None:
                row['tasks'][task] = _task_cell(task, c)
        for task in [t for t in PROBE_TASKS if t in args.tasks]:
            pr = collect_probe(args, task, arm['name'])
            if pr is None:
                missing.append(f"probe/{task}/{arm['name']}")
            else:
                row['probes'][task] = pr
        # the average over tasks (once every task has every seed) and its
        # standard error over the per-seed averages
        # (readouts stand beside it, not in it)
        main = finetune_tasks(args.tasks)
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
        rows.append(row)
    return dict(
        rows=rows,
        missing=missing,
        n_seeds=len(args.seeds),
        paired=compare(rows, args.tasks))


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
                item['probes'][t] = ra['probes'][t]['test'] - \
                    rb['probes'][t]['test']
        out.append(item)
    return out


def task_header(task: str) -> str:
    t = TASKS[task]
    metric = METRIC_NAMES.get(t['metric'], t['metric'])
    if t['metric'].startswith('coco/'):
        metric += ' x100'
    return f"{t['data']}: {metric}"


def _setting(r: Dict) -> str:
    zir = r.get('zero_init_residual')
    return f"lr {r['lr']:g}" + ('' if zir is None else f', zir {int(zir)}')


def _cell(r: Optional[Dict], n_seeds: int) -> str:
    if r is None:
        return '-'
    note = '' if r['seeds'] >= n_seeds else f" ({r['seeds']} seed(s))"
    return f"{r['mean']:.1f} +- {r['se']:.1f}{note} ({_setting(r)})"


def make_table(summary: Dict, tasks: Sequence[str]) -> str:
    """One row per arm: the fine-tune tasks, their average, then the
    readouts (frozen-backbone tasks and linear probes)."""
    main = finetune_tasks(tasks)
    readouts = [t for t in tasks if t in READOUTS]
    probes = [t for t in PROBE_TASKS if t in tasks]
    head = ('| arm | pre-training (images seen, hours) | ' +
            ' | '.join(task_header(t) for t in main) + ' | average | ' +
            ''.join(task_header(t) + ' | ' for t in readouts) +
            ''.join(f"{TASKS[t]['data']}: linear probe | " for t in probes))
    ncol = len(main) + 3 + len(readouts) + len(probes)
    lines = [head, '|' + '---|' * ncol]
    n_seeds = summary.get('n_seeds', 1)
    for row in summary['rows']:
        cells = [_cell(row['tasks'].get(t), n_seeds) for t in main]
        n = row['images_seen']
        seen = f'{n / 1000:.0f}k' if n >= 1000 else str(n)
        pre = '-' if not n else f"{seen}, {row['hours']:.3f} h"
        if n and row.get('busy'):
            pre += ' (busy)'
        avg = '-' if row['average'] is None else \
            f"{row['average']:.1f} +- {row['average_se']:.1f}"
        extra = [_cell(row['tasks'].get(t), n_seeds) for t in readouts] + [
            '-' if row['probes'].get(t) is None else
            f"{row['probes'][t]['test']:.1f}" for t in probes
        ]
        lines.append(f"| {row['label']} | {pre} | " + ' | '.join(cells) +
                     f' | {avg} | ' + ''.join(c + ' | ' for c in extra))
    busy = [r for r in summary['rows'] if r.get('busy')]
    if busy:
        lines += [''] + [
            f"(busy) {r['label']}: pre-training time measured while other "
            f"work shared the CPU ({r['busy']}); not comparable with the "
            'other rows.' for r in busy
        ]
    return '\n'.join(line.rstrip() for line in lines)


def _diff_cell(d: Optional[Dict]) -> str:
    if d is None:
        return '-'
    if d['low'] is None:
        return f"{d['mean']:+.1f} (1 seed)"
    mark = ' **clear**' if d['clear'] else ''
    return (f"{d['mean']:+.1f} +- {d['se']:.1f} "
            f"[{d['low']:+.1f}, {d['high']:+.1f}]{mark}")


def make_paired_table(summary: Dict, tasks: Sequence[str]) -> str:
    labels = {r['arm']: r['label'] for r in summary['rows']}
    main = finetune_tasks(tasks)
    readouts = [t for t in tasks if t in READOUTS]
    probes = [t for t in PROBE_TASKS if t in tasks]
    head = ('| comparison | ' + ' | '.join(TASKS[t]['data'] for t in main) +
            ' | average | ' + ''.join(TASKS[t]['data'] + ' | '
                                      for t in readouts) +
            ''.join(f"{TASKS[t]['data']}: probe | " for t in probes))
    lines = [
        head, '|' + '---|' * (len(main) + 2 + len(readouts) + len(probes))
    ]
    for item in summary['paired']:
        cells = [_diff_cell(item['tasks'].get(t)) for t in main]
        extra = [_diff_cell(item['tasks'].get(t)) for t in readouts] + [
            '-' if t not in item['probes'] else f"{item['probes'][t]:+.1f}"
            for t in probes
        ]
        lines.append(f"| {labels[item['a']]} - {labels[item['b']]} | " +
                     ' | '.join(cells) +
                     f" | {_diff_cell(item['average'])} | " +
                     ''.join(c + ' | ' for c in extra))
    return '\n'.join(line.rstrip() for line in lines)
