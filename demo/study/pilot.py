"""The budget pilot's report (issue 29): does a longer pre-training make the
arms differ by more than the instrument's noise?

At 1x the common budget the student explains 12-17% of the held-out
target variance and the paired 95% half-width is larger than any gap
between arms, so more seeds alone cannot separate them. The pilot
pre-trains KDEP-10% and supervised-10% at 1x, 4x and 10x (3 pre-training
seeds each), reads the students out with the linear probes and one
fine-tune task, and applies the decision rule fixed in
:data:`demo.study.design.PILOT` before any of its units ran.
"""
import os.path as osp
from typing import Dict, List, Optional

from ..finetune import dump_json
from .design import PILOT
from .probe import PROBE_TASKS
from .stats import paired
from .summary import scores_by_seed, summarise


def probe_mean(row: Dict, tasks) -> Optional[Dict]:
    """Per seed, the mean of the probe tasks' test accuracies (seeds that
    have every probe)."""
    per_task = [scores_by_seed(row, f'probe:{t}') or {} for t in tasks]
    seeds = set.intersection(*(set(p) for p in per_task)) if per_task \
        else set()
    return {
        s: sum(p[s] for p in per_task) / len(per_task)
        for s in seeds
    } or None


def readout(row: Dict, name: str, tasks) -> Optional[Dict]:
    return probe_mean(row, [t for t in PROBE_TASKS if t in tasks]) \
        if name == 'probe' else scores_by_seed(row, name)


def r2_curves(pre: Dict, arm: str) -> Dict[int, List]:
    """The held-out target R^2 at each validation of every seed's run."""
    return {
        seed: [(c.get('step'), c.get('kdep/r2'))
               for c in p.get('val_curve', [])]
        for seed, p in (pre.get(arm) or {}).items() if p
    }


def decide(budgets, gaps: Dict) -> Dict:
    """Apply the pre-registered rule to ``gaps[(comparison, readout)][b]``
    (paired differences): the smallest budget above 1x at which a gap's
    interval excludes 0 and its mean exceeds the 1x mean in magnitude."""
    for b in budgets[1:]:
        for key, by_budget in gaps.items():
            d, base = by_budget.get(b), by_budget.get(budgets[0])
            if d and base and d['clear'] and abs(d['mean']) > abs(
                    base['mean']):
                return dict(
                    budget=b,
                    because=f'{key[0]} on {key[1]}',
                    text=f'move the study to {b}x: {key[0]} on {key[1]} '
                    f"is {d['mean']:+.2f} [{d['low']:+.2f}, "
                    f"{d['high']:+.2f}] at {b}x against "
                    f"{base['mean']:+.2f} at {budgets[0]}x")
    complete = all(
        by_budget.get(b) and by_budget[b]['n'] >= 3
        for by_budget in gaps.values() for b in budgets)
    return dict(
        budget=None,
        text='no budget separates the arms beyond the paired interval: '
        'the study stays at 1x' if complete else 'not finished')


def pilot_report(args, pre: Dict) -> Dict:
    """Write ``study_pilot.{json,md}`` into the output folder."""
    summary = summarise(args, pre)
    rows = {r['arm']: r for r in summary['rows']}
    budgets = PILOT['budgets']
    gaps: Dict = {}
    for i, b in enumerate(budgets):
        kdep = rows.get(PILOT['arms']['kdep'][i])
        others = dict(
            scratch=rows.get(PILOT['reference']),
            sup=rows.get(PILOT['arms']['sup'][i]))
        for a, other in PILOT['comparisons']:
            for name in PILOT['readouts']:
                sa = kdep and readout(kdep, name, args.tasks)
                sb = others[other] and readout(others[other], name, args.tasks)
                gaps.setdefault((f'{a} - {other}', name), {})[b] = \
                    paired(sa, sb) if sa and sb else None
    decision = decide(budgets, gaps)
    out = dict(
        rule=decide.__doc__.split('(')[0].strip(),
        decision=decision,
        gaps={
            f'{k[0]} on {k[1]}': {
                f'{b}x': d
                for b, d in v.items()
            }
            for k, v in gaps.items()
        },
        r2_curves={arm: r2_curves(pre, arm)
                   for arm in PILOT['arms']['kdep']},
        missing=summary['missing'])
    dump_json(out, osp.join(args.out_dir, 'study_pilot.json'))
    lines = [
        '# Budget pilot (written by python -m demo.study --pilot)', '',
        '| comparison | ' + ' | '.join(f'{b}x' for b in budgets) + ' |',
        '|---|' + '---|' * len(budgets)
    ]
    for (comp, name), by_budget in gaps.items():
        cells = []
        for b in budgets:
            d = by_budget.get(b)
            cells.append('-' if not d or d['low'] is None else
                         f"{d['mean']:+.2f} [{d['low']:+.2f}, "
                         f"{d['high']:+.2f}] ({d['n']})")
        lines.append(f'| {comp} on {name} | ' + ' | '.join(cells) + ' |')
    lines += [
        '', f"Decision (rule fixed before the pilot ran): "
        f"{decision['text']}.", ''
    ]
    if summary['missing']:
        lines.append('Not finished: ' + ', '.join(summary['missing']) + '.')
    with open(osp.join(args.out_dir, 'study_pilot.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    return out
