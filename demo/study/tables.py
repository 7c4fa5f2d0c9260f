"""The study's tables (markdown): one row per arm, the paired
comparisons, and the pre-registered primary family."""
from typing import Dict, Optional, Sequence

from ..finetune import TASKS
from ..report import METRIC_NAMES
from .design import READOUTS
from .probe import probe_label, probe_tasks
from .summary import finetune_tasks


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


def _probe_text(p: Optional[Dict]) -> str:
    """A probe cell: mean (+- standard error over pre-training seeds), and
    ``(edge: seeds)`` when the L2 chosen on val sits on an edge of the
    grid."""
    if p is None:
        return '-'
    text = f"{p['test']:.1f}"
    if p['seeds'] > 1:
        text += f" +- {p['se']:.1f}"
    if p['edge']:
        text += ' (L2 on grid edge: ' + ', '.join(
            f's{s} {e}' for s, e in sorted(p['edge'].items())) + ')'
    return text


def make_table(summary: Dict, tasks: Sequence[str]) -> str:
    """One row per arm: the fine-tune tasks, their average, then the
    readouts (frozen-backbone tasks and linear probes)."""
    main = finetune_tasks(tasks)
    readouts = [t for t in tasks if t in READOUTS]
    probes = probe_tasks(tasks)
    head = ('| arm | pre-training (images seen, hours) | ' +
            ' | '.join(task_header(t) for t in main) + ' | average | ' +
            ''.join(task_header(t) + ' | ' for t in readouts) +
            ''.join(probe_label(t) + ' | ' for t in probes))
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
        extra = [_cell(row['tasks'].get(t), n_seeds) for t in readouts
                 ] + [_probe_text(row['probes'].get(t)) for t in probes]
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
    probes = probe_tasks(tasks)
    head = ('| comparison | ' + ' | '.join(TASKS[t]['data'] for t in main) +
            ' | average | ' + ''.join(TASKS[t]['data'] + ' | '
                                      for t in readouts) +
            ''.join(probe_label(t) + ' | ' for t in probes))
    lines = [
        head, '|' + '---|' * (len(main) + 2 + len(readouts) + len(probes))
    ]
    for item in summary['paired']:
        cells = [_diff_cell(item['tasks'].get(t)) for t in main]
        extra = [_diff_cell(item['tasks'].get(t)) for t in readouts
                 ] + [_diff_cell(item['probes'].get(t)) for t in probes]
        lines.append(f"| {labels[item['a']]} - {labels[item['b']]} | " +
                     ' | '.join(cells) +
                     f" | {_diff_cell(item['average'])} | " +
                     ''.join(c + ' | ' for c in extra))
    return '\n'.join(line.rstrip() for line in lines)


def _on(on: str) -> str:
    if on == 'average':
        return 'average of the fine-tune tasks'
    if on.startswith('probe:'):
        return f"{TASKS[on[6:]]['data']}: linear probe"
    return TASKS[on]['data']


def make_primary_table(summary: Dict, family: str = 'primary') -> str:
    """A pre-registered family (``summary[family]``): difference,
    Holm-adjusted p and the interval at its step-down level, and the
    verdict."""
    labels = {r['arm']: r['label'] for r in summary['rows']}
    lines = [
        '| primary comparison | on | difference (mean +- se, seeds) | '
        'p | Holm p | interval (level) | verdict |',
        '|---|---|---|---|---|---|---|'
    ]
    for it in summary.get(family) or []:
        name = (f"{labels.get(it['a'], it['a'])} - "
                f"{labels.get(it['b'], it['b'])}")
        if it.get('margin') is not None:
            name += f" (equivalence, margin {it['margin']:g})"
        d = it['diff']
        if it['verdict'] == 'not finished':
            n = d['n'] if d else 0
            lines.append(f"| {name} | {_on(it['on'])} | - ({n} seed(s)) | - "
                         '| - | - | not finished |')
            continue
        lines.append(
            f"| {name} | {_on(it['on'])} | {d['mean']:+.2f} +- "
            f"{d['se']:.2f} ({d['n']}) | {it['p']:.3f} | {it['p_holm']:.3f} "
            f"| [{it['low']:+.2f}, {it['high']:+.2f}] "
            f"({100 * it['level']:.1f}%) | {it['verdict']} |")
    return '\n'.join(lines)
