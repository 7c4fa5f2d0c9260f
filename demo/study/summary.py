"""The study's numbers: each arm's mean / spread per task over the seeds,
the average over tasks, what is missing, and the results table."""
from typing import Dict, Optional, Sequence

from ..finetune import TASKS
from ..report import METRIC_NAMES
from .units import collect


def score(task: str, value: float) -> float:
    """A task's metric in percent (COCO mAP is a fraction)."""
    return 100.0 * value if TASKS[task]['metric'].startswith('coco/') \
        else value


def summarise(args, pre: Dict[str, Optional[Dict]]) -> Dict:
    """Mean / spread per arm and task, the average over tasks, and what is
    missing."""
    rows = []
    missing = []
    for arm in args.arms:
        row = dict(arm=arm['name'], label=arm['label'], tasks={})
        p = pre.get(arm['name'])
        row['hours'] = p['seconds'] / 3600 if p else 0.0
        row['images_seen'] = p['images_seen'] if p else 0
        for task in args.tasks:
            c = collect(args, task, arm['name'])
            if c is None or len(c['runs']) < len(args.seeds):
                missing.append(f"{task}/{arm['name']}")
            if c is None:
                continue
            by_seed = {s: score(task, r['test']) for s, r in c['runs'].items()}
            vals = list(by_seed.values())
            row['tasks'][task] = dict(
                by_seed=by_seed,
                mean=sum(vals) / len(vals),
                spread=(max(vals) - min(vals)) / 2,
                seeds=len(vals),
                lr=c['lr'],
                val=score(task, c['grid'][c['lr']]['val']),
                grid_val={
                    str(lr): score(task, r['val'])
                    for lr, r in c['grid'].items()
                })
        # the average over tasks (once every task has every seed) and its
        # seed-to-seed noise: half the range of the per-seed averages
        row['average'] = row['average_spread'] = None
        if all(row['tasks'].get(t, {}).get('seeds') == len(args.seeds)
               for t in args.tasks):
            per_seed = [
                sum(row['tasks'][t]['by_seed'][s]
                    for t in args.tasks) / len(args.tasks) for s in args.seeds
            ]
            row['average'] = sum(per_seed) / len(per_seed)
            row['average_spread'] = (max(per_seed) - min(per_seed)) / 2
        rows.append(row)
    return dict(rows=rows, missing=missing)


def task_header(task: str) -> str:
    t = TASKS[task]
    metric = METRIC_NAMES.get(t['metric'], t['metric'])
    if t['metric'].startswith('coco/'):
        metric += ' x100'
    return f"{t['data']}: {metric}"


def make_table(summary: Dict, tasks: Sequence[str]) -> str:
    head = ('| arm | pre-training (images seen, hours) | ' +
            ' | '.join(task_header(t) for t in tasks) + ' | average |')
    lines = [head, '|' + '---|' * (len(tasks) + 3)]
    for row in summary['rows']:
        cells = []
        for t in tasks:
            r = row['tasks'].get(t)
            if r is None:
                cells.append('-')
            else:
                note = '' if r['seeds'] > 1 else ' (1 seed)'
                cells.append(f"{r['mean']:.1f} +- {r['spread']:.1f}"
                             f"{note} (lr {r['lr']:g})")
        avg = row['average']
        n = row['images_seen']
        seen = f'{n / 1000:.0f}k' if n >= 1000 else str(n)
        pre = '-' if not n else f"{seen}, {row['hours']:.3f} h"
        avg = '-' if avg is None else \
            f"{avg:.1f} +- {row.get('average_spread') or 0:.1f}"
        lines.append(f"| {row['label']} | {pre} | " + ' | '.join(cells) +
                     f' | {avg} |')
    return '\n'.join(lines)
