"""Start the study at the pilot's budget from what is already measured, so
none of it runs twice:

    python -m demo.study.import_pilot [BUDGET]

- The budget pilot's arms at that budget (``kdep10_4x``, ``sup10_4x``) are
  the study's ``kdep10`` and ``sup10`` there: :func:`.arms.budget_options`
  on their configs resolves to the pilot's ``-4x`` configs key for key
  (``tests/demo/test_study_budget.py``). Their pre-training records, probes
  and fine-tunes are copied under the study's names, and the students this
  machine keeps in the pilot's work directory are pointed to.
- Scratch is not pre-trained, so no budget changes it: its fine-tunes come
  from the study at 1x (they reproduce across machines to the last digit),
  its probes (one random network per seed, 3 seeds) from the pilot.

Every copied file names its source (``imported_from``); an existing file is
left as it is. Whether an imported student is the one the study would
pre-train is checked when it runs (:func:`.arms.check_same_student`).
"""
import glob
import os.path as osp
import sys

from .. import ROOT
from ..finetune import dump_json, load_json
from .design import BUDGET, PILOT

RUNS = osp.join(ROOT, 'docs', 'study_runs')
WORK = osp.join(ROOT, 'work_dirs')


def _copy(src: str, dst: str, **changes) -> bool:
    """Copy one record, naming its source; False if ``dst`` exists."""
    if osp.exists(dst):
        return False
    dump_json(
        dict(load_json(src), imported_from=osp.relpath(src, ROOT), **changes),
        dst)
    return True


def _renamed(path: str, old: str, new: str) -> str:
    """``old`` -> ``new`` in a record's file name (``kdep10_4x_p1.json``)."""
    name = osp.basename(path)
    assert name.startswith(old), (path, old)
    return new + name[len(old):]


def import_pilot(budget: int = BUDGET,
                 runs: str = RUNS,
                 work: str = WORK) -> int:
    """Copy the records (see the module) from the results directories
    under ``runs`` and the work directories under ``work``; returns how many
    results were written."""
    pilot, out = osp.join(runs, 'pilot'), osp.join(runs, f'{budget}x')
    n = 0
    for arm in (names[0] for names in PILOT['arms'].values()):
        old = f'{arm}_{budget}x'
        for src in glob.glob(osp.join(pilot, 'pretrain', f'{old}*.json')):
            rec = load_json(src)
            n += _copy(
                src,
                osp.join(out, 'pretrain', _renamed(src, old, arm)),
                arm=arm,
                config=rec['config'].replace(f'-{budget}x.py', '.py'),
                budget=budget)
            local = osp.join(work, 'study_pilot', 'pretrain',
                             osp.basename(src)[:-5], 'pretrain.json')
            if osp.exists(local):  # this machine's student of the run
                _copy(
                    local,
                    osp.join(work, f'study_{budget}x', 'pretrain',
                             _renamed(src, old, arm)[:-5], 'pretrain.json'),
                    arm=arm)
        for src in glob.glob(osp.join(pilot, 'probe', '*', f'{old}*.json')):
            task = osp.basename(osp.dirname(src))
            n += _copy(src,
                       osp.join(out, 'probe', task, _renamed(src, old, arm)))
        for src in glob.glob(osp.join(pilot, 'finetune', '*', old, '*.json')):
            task = osp.basename(osp.dirname(osp.dirname(src)))
            n += _copy(src,
                       osp.join(out, 'finetune', task, arm, osp.basename(src)))
    scratch = PILOT['reference']
    for src in glob.glob(osp.join(pilot, 'probe', '*', f'{scratch}*.json')):
        task = osp.basename(osp.dirname(src))
        n += _copy(src, osp.join(out, 'probe', task, osp.basename(src)))
    for src in glob.glob(osp.join(runs, 'finetune', '*', scratch, '*.json')):
        task = osp.basename(osp.dirname(osp.dirname(src)))
        n += _copy(src,
                   osp.join(out, 'finetune', task, scratch, osp.basename(src)))
    print(f'{n} records written under {out}')
    return n


if __name__ == '__main__':
    import_pilot(*(int(a) for a in sys.argv[1:]))
