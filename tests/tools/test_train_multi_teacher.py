"""Two teachers through the tools: ``dist_train.sh`` with two processes
agrees with one process on every teacher's basis; a run killed with
SIGKILL and resumed ends with the uninterrupted student, bit for bit; one
cache build stores both teachers' columns, a student trains from it with
no teacher built, and a cache of the teachers in another order is
refused, naming both sides."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from kdep_mm.basis.fit import collect_statistics
from kdep_mm.datasets import TargetCache
from kdep_mm.datasets.replay_crop import apply_box
from kdep_mm.datasets.target_cache.layout import CacheError
from kdep_mm.datasets.transforms import LoadImageFromFileSafe
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.datagen import save_backbone
from tests.helpers.launch import free_port
from tests.helpers.tiny import (FIXED_PIPELINE, PYTHON, ROOT, finish, run_tool,
                                start_tool, student_state, write_config)

MBV2 = dict(type='MobileNetV2', widen_factor=0.5)
MODEL = """
model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    teachers=[
        dict(model=dict(type='ResNet', depth=18), checkpoint={r18!r}),
        dict(model={mbv2!r}, checkpoint={mbv2_file!r}, weight=3.0),
    ],
    terms=[dict(), dict(stride=16)],
    probe_size=32)
"""
ITERS = """
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={n})
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
"""


@pytest.fixture(scope='module')
def setup(tiny_setup):
    root = tiny_setup['root'] / 'multi_teacher'
    root.mkdir()
    mbv2 = save_backbone(MBV2, str(root / 'mbv2.pth'), seed=3)
    model = MODEL.format(r18=tiny_setup['teacher'], mbv2=MBV2, mbv2_file=mbv2)
    return dict(root=root, images=tiny_setup['images'], model=model)


def _config(setup, name, extra):
    return write_config(
        str(setup['root'] / f'{name}.py'),
        setup['images'],
        '-',
        extra=setup['model'] + extra)


def test_two_processes_agree_on_every_teachers_basis(setup, tmp_path):
    cfg = _config(setup, 'dist', FIXED_PIPELINE + ITERS.format(n=2))
    dumps = str(tmp_path / 'dumps')
    log = str(tmp_path / 'dist.log')
    proc = start_tool([
        'bash',
        osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
        str(tmp_path / 'work')
    ],
                      log,
                      env=dict(
                          PORT=str(free_port()), KDEP_FAULT_DUMP_DIR=dumps))
    init_default_scope('mmpretrain')
    config = Config.fromfile(cfg)
    model = MODELS.build(config.model)
    stats = collect_statistics(
        model,
        Runner.build_dataloader(config.train_dataloader, seed=0),
        logger=MMLogger.get_current_instance())
    rc, out = finish(proc, log)
    assert rc == 0, out[-4000:]
    r0 = torch.load(osp.join(dumps, 'rank0.pth'), weights_only=True)
    r1 = torch.load(osp.join(dumps, 'rank1.pth'), weights_only=True)
    assert sorted(r0['slots']) == sorted(stats) == [
        't0/dense_s16', 't0/pooled', 't1/dense_s16', 't1/pooled'
    ]
    for name, single in stats.items():
        single = single.decompose()
        a, b = r0['slots'][name], r1['slots'][name]
        for key in ('mean', 'basis', 'spectrum'):
            assert torch.equal(a[key], b[key]), (name, key)  # broadcast
        torch.testing.assert_close(a['mean'], single['mean'])
        rank = int((single['spectrum'] > 1e-4 * single['spectrum'][0]).sum())
        torch.testing.assert_close(
            a['spectrum'][:rank],
            single['spectrum'][:rank],
            rtol=1e-4,
            atol=1e-6)
        k = a['basis'].shape[1]
        torch.testing.assert_close(
            a['basis'][:, :min(4, k)],
            single['basis'][:, :min(4, k)],
            rtol=0,
            atol=1e-3)
    for name, value in r0['backbone'].items():
        if 'running' not in name and 'num_batches' not in name:
            assert torch.equal(value, r1['backbone'][name]), name


def test_killed_and_resumed_equals_uninterrupted(setup, tmp_path):
    cfg = _config(setup, 'resume', ITERS.format(n=7))
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    procs = [
        start_tool([PYTHON, 'tools/train.py', cfg, '--work-dir', work],
                   work + '.log', env)
        for work, env in ((full, {}), (killed, dict(KDEP_FAULT_KILL_AT='5')))
    ]
    (rc_full, log_full), (rc_killed, _) = [
        finish(p, w + '.log') for p, w in zip(procs, (full, killed))
    ]
    assert rc_full == 0, log_full[-3000:]
    assert rc_killed == -9 and 'iter_4.pth' in os.listdir(killed)
    out = run_tool(
        [PYTHON, 'tools/train.py', cfg, '--work-dir', killed, '--resume'])
    assert 'not recomputing it' in out and 'not guaranteed' not in out
    a = student_state(osp.join(full, 'iter_7.pth'))
    b = student_state(osp.join(killed, 'iter_7.pth'))
    assert a.keys() == b.keys() and a
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


CACHED = """
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ReplayCachedCrop', scale=32),
    dict(type='PackInputs', algorithm_keys=('kdep_target', )),
]
train_dataloader['collate_fn'] = dict(type='kdep_collate')
train_dataloader['dataset']['pipeline'] = train_pipeline
model = dict(
    _delete_=True,
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    cache={cache!r},
    teachers=[dict(name={a!r}), dict(name={b!r}, weight=3.0)],
    terms=[dict(), dict(stride=16)],
    probe_size=32)
train_cfg = dict(max_epochs=1)
"""


def test_one_cache_for_both_teachers(setup, tmp_path):
    cfg = _config(setup, 'online', '')
    out = str(tmp_path / 'cache')
    run_tool([
        sys.executable, 'tools/build_target_cache.py', cfg, '--out', out,
        '--crops', '2', '--shard-size', '8'
    ])
    cache = TargetCache(out)
    assert sorted(cache.columns) == [
        't0/dense_s16', 't0/pooled', 't1/dense_s16', 't1/pooled'
    ]
    assert [t['name'] for t in cache.teacher['teachers']] == ['t0', 't1']
    # the stored projections are each teacher's own, on the same crop
    online = build_mmpretrain(
        dict(
            Config.fromfile(cfg).model,
            basis_file=osp.join(out, 'kdep_basis.pth')))
    box, stored = cache.get(3, 1, cache.images[3])
    img = LoadImageFromFileSafe()(dict(img_path=cache.images[3]))['img']
    x = torch.from_numpy(apply_box(img, box, cache.crop_recipe))
    inputs = online.data_preprocessor(dict(inputs=[x.permute(2, 0, 1)]))
    teacher = online.teacher_outputs(inputs['inputs'])
    for term in online.terms:
        if not term.is_map:
            z = term.align.project(teacher[term.name])[0]
            got = torch.from_numpy(stored[term.name].astype(np.float32))
            torch.testing.assert_close(got, z[:len(got)], rtol=2e-3, atol=2e-3)
    # trained from it with no teacher built; the spreads are the online ones
    cached_cfg = _config(setup, 'cached',
                         CACHED.format(cache=out, a='t0', b='t1'))
    model = build_mmpretrain(Config.fromfile(cached_cfg).model)
    assert all(t.net is None for t in model.teachers_list)
    for a, b in zip(model.terms, online.terms):
        assert (a.name, a.channels) == (b.name, b.channels)
        assert torch.equal(a.align.spread, b.align.spread), a.name
    log = run_tool([
        sys.executable, 'tools/train.py', cached_cfg, '--work-dir',
        str(tmp_path / 'work')
    ])
    assert 'loss_t1/dense_s16' in log and 'share_t0' in log
    # the teachers in the other order (under each other's names): refused
    swapped = _config(setup, 'swapped',
                      CACHED.format(cache=out, a='t1', b='t0'))
    with pytest.raises(CacheError) as e:
        build_mmpretrain(Config.fromfile(swapped).model)
    assert "teacher 0: the cache has 't0', the model 't1'" in str(e.value)
