"""A run killed with SIGKILL mid-epoch and resumed with ``--resume`` ends
with the same student, bit for bit, as an uninterrupted run, and does not
recompute the basis.

Both mmengine loops are covered: ``IterBasedTrainLoop`` with a checkpoint
in the middle of an epoch (mmengine replays the data loader up to it) and
``EpochBasedTrainLoop`` with checkpoints at epoch ends (the killed epoch is
redone). :class:`KDEPRandomStateHook` makes the augmentation draws match.
"""
import os
import os.path as osp

import pytest
import torch

from tests.helpers.tiny import (PYTHON, finish, start_tool, student_state,
                                write_config)

# 16 images, batch 4: 4 iterations per epoch.
LOOPS = dict(
    iter_based=dict(
        extra="""
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=7)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
""",
        kill_at=5,  # in epoch 2; the latest checkpoint is iter_4.pth
        resumed_from='iter_4.pth',
        final='iter_7.pth'),
    epoch_based=dict(
        extra="""
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=100)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1))
""",
        kill_at=6,  # in epoch 2; the latest checkpoint is epoch_1.pth
        resumed_from='epoch_1.pth',
        final='epoch_3.pth'))


@pytest.fixture(scope='module')
def runs(tiny_setup):
    """For each loop: an uninterrupted run, a killed run, then its resume.

    The processes of one phase run concurrently (they are independent).
    """
    root = tiny_setup['root'] / 'resume'
    root.mkdir()
    out = {}
    procs = []
    for name, spec in LOOPS.items():
        cfg = write_config(
            str(root / f'{name}.py'),
            tiny_setup['images'],
            tiny_setup['teacher'],
            extra=spec['extra'])
        dirs = dict(
            full=str(root / f'{name}_full'),
            killed=str(root / f'{name}_killed'))
        out[name] = dict(cfg=cfg, **dirs)
        for kind, work_dir in dirs.items():
            env = dict(KDEP_FAULT_KILL_AT=str(spec['kill_at'])) \
                if kind == 'killed' else {}
            log = work_dir + '.log'
            procs.append(
                (name, kind, log,
                 start_tool(
                     [PYTHON, 'tools/train.py', cfg, '--work-dir', work_dir],
                     log, env)))
    for name, kind, log, proc in procs:
        out[name][kind + '_rc'], out[name][kind + '_log'] = finish(proc, log)
    procs = []
    for name, spec in LOOPS.items():
        killed = out[name]['killed']
        basis = osp.join(killed, 'kdep_basis.pth')
        out[name]['basis_mtime'] = os.stat(basis).st_mtime_ns
        out[name]['files_after_kill'] = sorted(os.listdir(killed))
        log = killed + '_resumed.log'
        procs.append((name, log,
                      start_tool([
                          PYTHON, 'tools/train.py', out[name]['cfg'],
                          '--work-dir', killed, '--resume'
                      ], log)))
    for name, log, proc in procs:
        out[name]['resumed_rc'], out[name]['resumed_log'] = finish(proc, log)
    return out


@pytest.mark.parametrize('loop', list(LOOPS))
def test_killed_and_resumed_equals_uninterrupted(runs, loop):
    spec, run = LOOPS[loop], runs[loop]
    assert run['full_rc'] == 0, run['full_log'][-3000:]
    # SIGKILL: no clean-up, no final checkpoint.
    assert run['killed_rc'] == -9, run['killed_log'][-3000:]
    assert spec['final'] not in run['files_after_kill']
    assert spec['resumed_from'] in run['files_after_kill']
    assert run['resumed_rc'] == 0, run['resumed_log'][-3000:]
    log = run['resumed_log']
    assert spec['resumed_from'] in log
    assert 'KDEP: random state restored' in log
    assert 'not guaranteed' not in log  # exact settings: no warning

    full = student_state(osp.join(run['full'], spec['final']))
    resumed = student_state(osp.join(run['killed'], spec['final']))
    assert full.keys() == resumed.keys() and len(full) > 0
    different = [k for k in full if not torch.equal(full[k], resumed[k])]
    assert not different, f'{len(different)} tensors differ: {different[:5]}'


@pytest.mark.parametrize('loop', list(LOOPS))
def test_resume_does_not_recompute_basis(runs, loop):
    run = runs[loop]
    assert run['resumed_rc'] == 0, run['resumed_log'][-3000:]
    log = run['resumed_log']
    assert 'not recomputing it' in log
    assert 'KDEP basis: teacher features of' not in log
    basis = osp.join(run['killed'], 'kdep_basis.pth')
    assert os.stat(basis).st_mtime_ns == run['basis_mtime']


def test_settings_that_cannot_resume_exactly_are_named():
    """The demo's loader settings (persistent workers, deterministic off)
    are named at start-up and on resume instead of claiming an exact
    restore; the exact settings of the tests above give no warning."""
    from mmengine.config import Config

    from demo.stages import PRETRAIN_CONFIG
    from kdep_mm.engine.hooks import KDEPRandomStateHook
    reasons = KDEPRandomStateHook.inexact_reasons(
        Config.fromfile(PRETRAIN_CONFIG))
    assert any('persistent_workers=True with num_workers=2' in r
               for r in reasons), reasons
    assert any('deterministic=False' in r for r in reasons), reasons
    exact = dict(
        train_dataloader=dict(num_workers=0, persistent_workers=False),
        randomness=dict(seed=0, deterministic=True))
    assert KDEPRandomStateHook.inexact_reasons(exact) == []


def test_the_start_up_warning_gives_the_exact_resume_flags():
    """The warning prints the flags of an exact resume, the seed
    included (following them gives no warning)."""
    import types

    from mmengine.config import Config

    from demo.stages import PRETRAIN_CONFIG
    from kdep_mm.engine.hooks import KDEPRandomStateHook
    said = []
    runner = types.SimpleNamespace(
        cfg=Config.fromfile(PRETRAIN_CONFIG),
        logger=types.SimpleNamespace(warning=said.append))
    KDEPRandomStateHook().before_run(runner)
    flags = ('randomness.seed=0 randomness.deterministic=True '
             'train_dataloader.persistent_workers=False')
    assert len(said) == 1 and f'--cfg-options {flags}' in said[0]
    cfg = Config.fromfile(PRETRAIN_CONFIG)
    cfg.merge_from_dict({
        k: v == 'True' if v in ('True', 'False') else int(v)
        for k, v in (f.split('=') for f in flags.split())
    })
    assert KDEPRandomStateHook.inexact_reasons(cfg) == []
