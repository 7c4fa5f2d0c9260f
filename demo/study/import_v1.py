"""Turn the first study's report (two seeds, 2026-11-24/25) into unit
result files of the results directory, so the sharper study adds to it
instead of running its 108 fine-tunes again.

    python -m demo.study.import_v1 OLD_RESULTS_JSON [RESULTS_DIR [SOURCE]]

Only what the old report holds is written: each arm's pre-training record;
for every grid value its seed-0 val score; for the chosen value the test
score of each seed (a grid value that was not chosen has ``test`` None, and
a later seed's ``val`` is None: neither was reported). The old scratch arm
used the libraries' default ``zero_init_residual=True``. Every file names
its source. Whether the old students are the ones the study pre-trains now
is checked when it runs: :func:`demo.study.arms.check_same_student`.
"""
import math
import os.path as osp
import sys

from .. import ROOT
from ..finetune import dump_json, load_json


def raw(task: str, stored: float) -> float:
    """The metric value whose reported score (COCO mAP x 100) is exactly
    ``stored``."""
    if task != 'det':
        return stored
    x = stored / 100.0
    for _ in range(64):
        s = 100.0 * x
        if s == stored:
            return x
        x = math.nextafter(x, math.inf if s < stored else -math.inf)
    raise ValueError(f'no exact inverse for {stored}')


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    old = load_json(argv[0])
    out = argv[1] if len(argv) > 1 else osp.join(ROOT, 'docs', 'study_runs')
    source = (argv[2] if len(argv) > 2 else argv[0]) + \
        f' (the first study, seeds {old["seeds"]})'
    for arm, rec in old['pretrain'].items():
        dump_json(
            dict(
                rec, checkpoint=osp.basename(rec['checkpoint']),
                source=source), osp.join(out, 'pretrain', f'{arm}.json'))
    n = 0
    for row in old['rows']:
        zir = '_zir1' if row['arm'] == 'scratch' else ''
        for task, t in row['tasks'].items():
            for lr, val in t['grid_val'].items():
                lr = float(lr)
                chosen = lr == t['lr']
                for seed in old['seeds'] if chosen else old['seeds'][:1]:
                    test = raw(task, t['by_seed'][str(seed)]) \
                        if chosen else None
                    res = dict(
                        lr=lr,
                        seed=seed,
                        zero_init_residual=True if zir else None,
                        val=raw(task, val)
                        if seed == old['seeds'][0] else None,
                        test=test,
                        value=test,
                        source=source)
                    dump_json(
                        res,
                        osp.join(out, 'finetune', task, row['arm'],
                                 f'lr{lr:g}{zir}_s{seed}.json'))
                    n += 1
    print(f"{len(old['pretrain'])} pre-training records and {n} fine-tune "
          f'results written under {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
