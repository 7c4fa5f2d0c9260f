"""``tools/train.py --continue-from``: the recovery the invalid-loss message
advises works for a learning-rate divergence (issue 17, item 1).

The scenario: the schedule jumps the learning rate to 1e6 in epoch 2; the
run stops at the first NaN and names ``epoch_1.pth``. ``--resume`` with the
fixed config restores the checkpoint's learning rate and scheduler and
diverges again; ``--continue-from`` takes them from the fixed config and
finishes with finite losses at the fixed schedule's learning rate for that
epoch."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import ROOT as REPO

JUMP = "\nparam_scheduler = [dict(type='MultiStepLR', by_epoch=True, " \
    "milestones=[1], gamma={gamma})]\n"


def _config(path, images, teacher, gamma):
    cfg = write_tiny_config(path, images, teacher, epochs=3, batch=4, lr=0.05)
    with open(cfg, 'a') as f:
        f.write(JUMP.format(gamma=gamma))
    return cfg


def _train(*args):
    return subprocess.run([sys.executable, 'tools/train.py', *args],
                          cwd=REPO,
                          env=dict(
                              os.environ, PYTHONPATH=REPO,
                              OMP_NUM_THREADS='1'),
                          capture_output=True,
                          text=True)


def _rows(work):
    rows = []
    for path in sorted(
            glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f]
    return [r for r in rows if 'loss' in r]


def test_continue_from_takes_the_fixed_schedule(tmp_path, image_folder,
                                                r34_teacher):
    bad = _config(str(tmp_path / 'bad.py'), image_folder, r34_teacher, 2e7)
    work = str(tmp_path / 'work')
    proc = _train(bad, '--work-dir', work)
    assert proc.returncode != 0
    ckpt = osp.join(work, 'epoch_1.pth')
    # the message names the command that recovers
    assert 'non-finite' in proc.stderr.lower() or 'NaN' in proc.stderr
    assert f'--continue-from {ckpt}' in proc.stderr
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))

    # the fix: a decay at epoch 1 instead of the jump (so the continued run
    # must be at the *stepped* fixed schedule: 0.005, not 0.05)
    fixed = _config(str(tmp_path / 'fixed.py'), image_folder, r34_teacher, 0.1)
    # --resume restores lr 1e6 from the checkpoint: the fix has no effect
    again = _train(fixed, '--work-dir', str(tmp_path / 'resumed'), '--resume',
                   ckpt)
    assert again.returncode != 0 and 'epoch_1.pth' in again.stderr

    # --continue-from: the fixed config's lr and schedule, finite to the end
    done = _train(fixed, '--work-dir', str(tmp_path / 'continued'),
                  '--continue-from', ckpt)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    assert 'KDEP: continuing from' in out and 'at epoch 1' in out
    assert 'resumed epoch: 1' in out
    rows = _rows(str(tmp_path / 'continued'))
    assert rows and all(r['epoch'] >= 2 for r in rows)  # epoch 1 not redone
    assert all(abs(r['lr'] - 0.005) < 1e-12 for r in rows), rows
    assert all(abs(r['loss']) < 1e6 for r in rows)
    assert osp.exists(osp.join(str(tmp_path / 'continued'), 'epoch_3.pth'))


def test_continue_from_and_resume_exclude_each_other(tmp_path, image_folder,
                                                     r34_teacher):
    cfg = write_tiny_config(
        str(tmp_path / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    proc = _train(cfg, '--resume', 'a.pth', '--continue-from', 'b.pth')
    assert proc.returncode != 0
    assert '--resume and --continue-from exclude each other' in proc.stderr
