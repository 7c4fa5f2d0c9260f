"""A NaN in the distillation stops the run at once, naming the iteration
and the tensor that went bad; the last good checkpoint stays intact and
resumable."""
import math
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from kdep_mm.engine.hooks import NonFiniteLossError
from tests.helpers.tiny import student_state, write_config

EXTRA = """
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=7)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
"""


def run(cfg_file, work_dir, **cfg_options):
    cfg = Config.fromfile(cfg_file)
    cfg.work_dir = work_dir
    cfg.merge_from_dict(cfg_options)
    Runner.from_cfg(cfg).train()


def test_nan_stops_the_run_and_last_checkpoint_resumes(tiny_setup, tmp_path):
    work_dir = str(tmp_path / 'work')
    cfg_nan = write_config(
        str(tmp_path / 'nan_at_6.py'),
        tiny_setup['images'],
        tiny_setup['teacher'],
        extra=EXTRA + """
custom_hooks = [
    dict(type='KDEPBasisHook'),
    dict(type='KDEPRandomStateHook'),
    dict(type='KDEPCheckInvalidLossHook'),
    dict(type='KDEPTestFaultHook', nan_at=6),
]
""")
    with pytest.raises(NonFiniteLossError) as err:
        run(cfg_nan, work_dir)
    msg = str(err.value)
    assert 'iteration 6' in msg
    assert 'first non-finite tensor in data-flow order: pooled: teacher ' \
        'feature' in msg
    assert 'pooled: teacher feature:' in msg and 'pooled: target:' in msg
    assert 'iter_4.pth' in msg  # how to resume
    # The bad step was never saved; the last good checkpoint is intact.
    files = os.listdir(work_dir)
    assert 'iter_4.pth' in files and 'iter_6.pth' not in files
    good = student_state(osp.join(work_dir, 'iter_4.pth'))
    assert all(
        torch.isfinite(v).all() for v in good.values()
        if v.is_floating_point())

    # Resume from it (the fault removed): the run completes, finite.
    cfg_ok = write_config(
        str(tmp_path / 'fixed.py'),
        tiny_setup['images'],
        tiny_setup['teacher'],
        extra=EXTRA)
    run(cfg_ok,
        work_dir,
        resume=True,
        load_from=osp.join(work_dir, 'iter_4.pth'))
    final = torch.load(
        osp.join(work_dir, 'iter_7.pth'),
        map_location='cpu',
        weights_only=True)
    assert final['meta']['iter'] == 7
    assert all(
        torch.isfinite(v).all() for v in final['state_dict'].values()
        if v.is_floating_point())
    assert math.isfinite(
        final['message_hub']['log_scalars']['train/loss'].current())


class _Hub:

    def get_info(self, key):
        return None


class _Runner:
    """What the hook reads of a runner."""

    def __init__(self, model):
        self.model, self.iter, self.epoch = model, 0, 0
        self.message_hub = _Hub()


def test_a_cached_dense_target_is_named(tmp_path):
    """A term reading the cache: a NaN stored target is named as such (not
    as a teacher feature), with its term, first in data-flow order."""
    import numpy as np
    from mmpretrain.structures import DataSample

    from kdep_mm.engine.hooks import KDEPCheckInvalidLossHook
    from kdep_mm.utils.misc import build_mmpretrain
    from tests.test_datasets.test_target_cache.helpers import (COLUMNS,
                                                               image_paths,
                                                               write_cache)
    folder = str(tmp_path / 'c')
    write_cache(folder, image_paths(str(tmp_path / 'img')))
    with pytest.warns(UserWarning, match='cache holds'):
        model = build_mmpretrain(
            dict(
                type='KDEP',
                backbone=dict(type='ResNet', depth=18),
                cache=folder,
                terms=[dict(), dict(stride=8)],
                probe_size=32))
    samples = []
    for i in range(2):
        target = {
            name: np.zeros((c['dim'], ) + tuple(c.get('grid') or ()),
                           np.float16)
            for name, c in COLUMNS.items()
        }
        target['dense_s8'][0, 0, 0] = np.nan
        samples.append(DataSample())
        samples[-1].set_field(target, 'kdep_target')
    model.train()
    outputs = model.loss(torch.rand(2, 3, 32, 32), samples)
    assert not math.isfinite(float(outputs['loss_dense_s8']))
    with pytest.raises(NonFiniteLossError) as err:
        KDEPCheckInvalidLossHook().after_train_iter(
            _Runner(model), 0, outputs=outputs)
    msg = str(err.value)
    assert 'in data-flow order: dense_s8: cached target' in msg
    assert 'pooled: cached target' not in msg  # finite: not listed


@pytest.mark.parametrize('launcher, world, local, want', [
    ('none', 1, 1, 'python tools/train.py c.py --work-dir w '
     '--continue-from w/iter_4.pth'),
    ('pytorch', 4, 4, 'bash tools/dist_train.sh c.py 4 --work-dir w '
     '--continue-from w/iter_4.pth'),
    ('pytorch', 8, 4, 'NNODES=2 NODE_RANK=<this node> MASTER_ADDR=<first '
     'node> bash tools/dist_train.sh c.py 4 --work-dir w --continue-from '
     'w/iter_4.pth'),
    ('slurm', 16, 8, 'GPUS=16 bash tools/slurm_train.sh <partition> <job '
     'name> c.py w --continue-from w/iter_4.pth'),
])
def test_the_continue_command_keeps_the_launcher(monkeypatch, launcher, world,
                                                 local, want):
    """Under dist_train.sh N the divergence message prints the same
    launcher with N processes, not a one-process command."""
    import types

    import kdep_mm.engine.hooks.invalid_loss_hook as hook
    monkeypatch.setattr(hook.dist, 'get_world_size', lambda: world)
    monkeypatch.setattr(hook.dist, 'get_local_size', lambda: local)
    runner = types.SimpleNamespace(
        launcher=launcher,
        work_dir='w',
        cfg=types.SimpleNamespace(filename='c.py'))
    assert hook.continue_command(runner, 'w/iter_4.pth') == want
