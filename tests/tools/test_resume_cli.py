"""Resuming and re-running from the command line (issue 17, items 2 and
4): settings that cannot resume bit-exactly are named at start-up and on
resume (never an exact-restore claim), and a valid basis file in the work
directory is reused instead of paying the teacher pass again."""
import os
import os.path as osp
import shutil
import sys

from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import run_tool

INEXACT = [
    'train_dataloader.num_workers=1',
    'train_dataloader.persistent_workers=True',
    'randomness.deterministic=False'
]


def test_inexact_resume_is_warned_and_basis_is_reused(tmp_path, image_folder,
                                                      r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    work = str(tmp_path / 'work')
    train = [sys.executable, 'tools/train.py', cfg, '--work-dir', work]
    first = run_tool(train + ['--cfg-options'] + INEXACT)
    assert 'KDEP: a resumed run is not guaranteed to be bit-identical' in first
    assert 'train_dataloader.persistent_workers=True with num_workers=1' \
        in first
    assert 'randomness.deterministic=False' in first
    assert 'KDEP basis written to' in first

    resumed = run_tool(train + ['--resume', '--cfg-options'] + INEXACT +
                       ['train_cfg.max_epochs=2'])
    assert 'resumed epoch: 1' in resumed
    assert 'random state restored (as at iteration 3), but the resumed run ' \
        'is not guaranteed bit-exact' in resumed
    assert 'not recomputing it' in resumed  # the basis came with the ckpt

    # a run that died before its first checkpoint: only the basis is left
    died = str(tmp_path / 'died')
    os.makedirs(died)
    shutil.copy(osp.join(work, 'kdep_basis.pth'), died)
    again = run_tool(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', died])
    assert f"KDEP basis reused from {osp.join(died, 'kdep_basis.pth')}" \
        in again
    assert 'KDEP basis: teacher features' not in again  # no teacher pass
    assert osp.exists(osp.join(died, 'epoch_1.pth'))
