"""The study's report: ``study_results.json`` (every number),
``study_results.md`` (the table, the protocol, the pre-training runs) and
``study_fig1.png`` (the paper's Figure 1 in miniature)."""
import os
import os.path as osp
from typing import Dict, Optional

from ..finetune import dump_json, load_json
from .arms import banner, run_name
from .design import PRIMARY_ALPHA
from .summary import summarise
from .tables import make_paired_table, make_primary_table, make_table

#: How the report names the command that wrote it.
COMMAND = ('python', '-m', 'demo.study')


def plot_fig1(summary: Dict, out_file: str) -> Optional[str]:
    """Average downstream score against pre-training hours (log scale),
    in the style of the paper's Figure 1; scratch as a horizontal line;
    error bars: the standard error of the per-seed averages."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    pts = [r for r in summary['rows'] if r['average'] is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(9.6, 4.2))
    markers = dict(
        sup10='s',
        sup100='D',
        sup100_5x='D',
        kdep10='*',
        kdep100='*',
        logitkd10='^',
        parametric10='v',
        nopts10='o',
        kdep10_lite2='*',
        pooleddense10='P',
        dense10='X')
    colours = dict(
        sup10='tab:gray',
        sup100='tab:blue',
        sup100_5x='tab:blue',
        kdep10='tab:red',
        kdep100='darkred',
        logitkd10='tab:green',
        parametric10='tab:purple',
        nopts10='tab:orange',
        kdep10_lite2='gold',
        pooleddense10='tab:pink',
        dense10='tab:brown')
    for r in pts:
        if r['arm'] == 'scratch':
            ax.axhline(r['average'], ls='--', c='k', lw=1, label=r['label'])
            continue
        ax.errorbar(
            r['hours'],
            r['average'],
            yerr=r.get('average_se') or 0,
            ms=12 if markers.get(r['arm']) == '*' else 7,
            fmt=markers.get(r['arm'], 'o'),
            c=colours.get(r['arm'], 'k'),
            mfc='none' if r.get('busy') else None,  # time not comparable
            capsize=3,
            label=r['label'] + (' (time under load)' if r.get('busy') else ''),
            zorder=3)
    sup = sorted((r for r in pts if r['arm'] in ('sup100', 'sup100_5x')),
                 key=lambda r: r['hours'])
    if len(sup) == 2:
        ax.plot([r['hours'] for r in sup], [r['average'] for r in sup],
                c='tab:blue',
                lw=1)
    ax.set_xscale('log')
    ax.set_xlabel('pre-training wall-clock (hours, log scale)')
    ax.set_ylabel('average downstream score')
    ax.set_title('KDEP study in miniature (ResNet-18 student)')
    ax.grid(alpha=0.3, which='both')
    # outside the axes: with 13 arms a legend inside covers points
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
    return out_file


def hardware() -> str:
    import platform
    cpu = platform.processor() or 'CPU'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    import torch
    gpu = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else 'no GPU')
    return f'{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}'


def write_markdown(summary: Dict, args, out_file: str) -> None:
    pilot = summary.get('pilot')
    done = summary['complete_arms']
    lines = [
        '# KDEP study: results table (written by '
        f"{' '.join(COMMAND)})", '',
        f"Pre-training budget: {summary['budget']}x every arm config's "
        'epochs (1x: the common budget B, 18k images seen by the 10% '
        'arms)' +
        (f". The budget pilot's decision: {pilot['decision']['text']}"
         ' ([study_pilot.md](study_pilot.md))' if pilot else '') + '.', '',
        'Finished (every unit with every pre-training seed): ' +
        (', '.join(done) if done else 'none yet') + '; a row with fewer '
        'seeds says so in its cells.', '', summary['table'], '',
        f"Hardware: {summary['hardware']}.",
        f"Command: `{summary['command']}`.",
        'Cells: test score, mean +- standard error over seeds '
        f"{summary['seeds']}, at the setting chosen on val with seed "
        f"{summary['seeds'][0]} from the learning-rate grid " +
        ', '.join(f'{t}: {v}' for t, v in summary['lr_grid'].items()) +
        ' (scratch: also zero_init_residual (zir) 1 / 0). Average: the mean '
        'of the task columns (every column in %), +- the standard error of '
        'the per-seed averages. Linear probe: frozen student, pooled '
        'features, logistic regression with the L2 strength chosen on val, '
        'test top-1 (no seed: one number per arm). Frozen backbone: the '
        'segmentation task with the backbone frozen (frozen_stages=4, '
        'norm_eval=True), same grid and seeds; not in the average.', '',
        '## Primary comparisons (pre-registered, Holm-corrected)', '',
        summary['primary_table'], '',
        '## Two teachers (pre-registered with the arm, a family of its own)',
        '', summary['multi_teacher_table'], '',
        'Seed-paired over pre-training seed s + fine-tune seed s; p: '
        "Student's t (two-sided; for an equivalence comparison the larger "
        'one-sided p against +-margin); Holm p: adjusted over all the '
        'comparisons of the family, given once each has every seed; '
        'interval: Student-t at the step-down '
        f'level of its rank (1 - {PRIMARY_ALPHA:g} / (m - rank)); '
        f'"differ": Holm p < {PRIMARY_ALPHA:g}; "equal within m": the '
        'whole interval inside +-m. Everything below is exploratory '
        '(uncorrected).', '', '## Paired comparisons (exploratory)', '',
        summary['paired_table'], '',
        'Cells: the seed-paired difference (first arm minus second; '
        'fine-tune seed s on the student of pre-training seed s), mean +- '
        "standard error over the seeds, [95% interval, Student's t]; "
        '**clear**: all three seeds and the interval excludes 0 '
        '(uncorrected). Probe: the same over pre-training seeds.', '',
        '| arm | config | images seen | pre-training s | final val |',
        '|---|---|---|---|---|'
    ]
    for name, p in summary['pretrain'].items():
        if not p.get('final_val'):
            continue
        val = ', '.join(f'{k} {v:.3f}' for k, v in p['final_val'].items())
        lines.append(f"| {name} | `{p['config']}` | {p['images_seen']} | "
                     f"{p['seconds']:.0f} | {val} |")
    if summary['missing']:
        lines += ['', 'Not finished: ' + ', '.join(summary['missing']) + '.']
    with open(out_file, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def report(args, pre: Dict[str, Dict[int, Optional[Dict]]]) -> Dict:
    banner('report')
    summary = summarise(args, pre)
    table = make_table(summary, args.tasks)
    summary['paired_table'] = make_paired_table(summary, args.tasks)
    summary['primary_table'] = make_primary_table(summary)
    summary['multi_teacher_table'] = make_primary_table(
        summary, 'multi_teacher')
    suffix = args.report_suffix
    out = osp.join(args.out_dir, f'study_results{suffix}')
    fig = plot_fig1(summary, osp.join(args.out_dir, f'study_fig1{suffix}.png'))
    pilot = osp.join(args.out_dir, 'study_pilot.json')
    if osp.exists(pilot) and not args.quick:  # what set the budget
        summary['pilot'] = {
            k: v
            for k, v in load_json(pilot).items() if k in ('decision', 'gaps')
        }
    summary.update(
        hardware=hardware(),
        command=' '.join(list(COMMAND) + args.argv),
        lr_grid={t: list(args.lr_grid[t])
                 for t in args.tasks},
        seeds=args.seeds,
        budget=args.budget,
        pretrain={
            run_name(dict(name=arm), seed): p
            for arm, by_seed in pre.items()
            for seed, p in by_seed.items() if p
        },
        table=table,
        figure=fig and osp.basename(fig))
    dump_json(summary, out + '.json')
    write_markdown(summary, args, out + '.md')
    print(table)
    print(summary['paired_table'])
    if summary['missing']:
        print(f"not finished yet: {', '.join(summary['missing'])}")
    print(f'written: {out}.json' + (f', {fig}' if fig else ''))
    return summary
