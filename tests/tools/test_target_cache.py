"""The teacher-target cache end to end: tools/build_target_cache.py on a
tiny pool (3 shards), cached targets against the online teacher on the same
crop, refusals, resumption of a build and of a cached training run, and two
ranks building disjoint shards."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch

from kdep_mm.datasets import CacheError, ReplayCachedCrop, TargetCache
from kdep_mm.datasets.replay_crop import apply_box
from kdep_mm.datasets.transforms import LoadImageFromFileSafe
from kdep_mm.models import power_temperature_scaling
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.launch import free_port, run_launcher
from tests.helpers.tiny import ROOT, config_path, run_tool, student_state

CACHED = config_path('kdep/kdep-cached_r50-r18_4xb128-90e_in1k-10pct.py')


def _build(cfg: str, out: str, *extra: str) -> str:
    return run_tool([
        sys.executable, 'tools/build_target_cache.py', cfg, '--out', out,
        '--crops', '3', '--shard-size', '10', *extra
    ])


@pytest.fixture(scope='module')
def built(tmp_path_factory, image_folder, r34_teacher):
    root = tmp_path_factory.mktemp('cache')
    cfg = write_tiny_config(
        str(root / 'tiny.py'), image_folder, r34_teacher, epochs=1)
    out = str(root / 'cache')
    log = _build(cfg, out)
    return dict(cfg=cfg, out=out, log=log, root=root)


def test_cached_targets_equal_the_online_teacher_on_the_same_crop(built):
    from mmengine.config import Config
    cache = TargetCache(built['out'])
    m = cache.manifest
    assert (m['num_images'], m['crops_per_image'], m['dim']) == (24, 3, 512)
    assert [s['start'] for s in m['shards']] == [0, 10, 20]
    cfg = Config.fromfile(built['cfg'])
    model = build_mmpretrain(
        dict(cfg.model, basis_file=osp.join(built['out'], 'kdep_basis.pth')))
    load = LoadImageFromFileSafe()
    for index in (0, 13, 23):
        for crop in range(3):
            box, targets = cache.get(index, crop, cache.images[index])
            assert targets['pooled'].dtype == np.float16  # as stored
            z = targets['pooled'].astype(np.float32)
            img = load(dict(img_path=cache.images[index]))['img']
            x = torch.from_numpy(apply_box(img, box,
                                           m['crop_recipe'])).permute(2, 0, 1)
            inputs = model.data_preprocessor(dict(inputs=[x]))['inputs']
            f = model.extract_teacher_feat(inputs)
            online = ((f - model.align.mean) @ model.align.basis)[0]
            # float16 storage: a relative error of 2^-11 per value
            torch.testing.assert_close(
                torch.from_numpy(z), online, rtol=2e-3, atol=2e-3)
            # and the PTS targets agree where they are distilled (within the
            # rank; beyond it both are rounding noise, masked in training)
            r = m['rank']
            pts = model.align.target(f)[0, :r]
            torch.testing.assert_close(
                power_temperature_scaling(torch.from_numpy(z[:r]), 0.1, 3.0),
                pts,
                rtol=2e-3,
                atol=2e-3)
    # reads are row by row from memory maps, never whole shards in memory
    assert all(isinstance(rows, np.memmap) for rows in cache._open.values())
    assert sorted(cache._open) == [0, 1, 2]


def test_a_narrower_student_reads_the_prefix(built, tmp_path):
    """A 256-d student (ResNet-18's stage 3) takes the first 256 of 512
    cached directions (when the rank allows it: set here to 512)."""
    folder = tmp_path / 'c'
    folder.mkdir()
    manifest = dict(TargetCache(built['out']).manifest, rank=512)
    manifest['columns']['pooled']['rank'] = 512
    (folder / 'manifest.json').write_text(json.dumps(manifest))
    model = build_mmpretrain(
        dict(
            type='CachedKDEP',
            backbone=dict(type='ResNet', depth=18),
            cache=str(folder),
            student_tap=dict(module='layer3.1.relu', hook='input'),
            probe_size=32))
    assert model.num_targets == 256
    z = torch.randn(2, 512)
    assert torch.equal(
        model.target(z), power_temperature_scaling(z[:, :256], 0.1, 3.0))


def test_a_foreign_cache_is_refused(built, tmp_path, backbone_file,
                                    image_folder):
    # another teacher into the same folder: refused before any work
    other = dict(
        model=dict(type='ResNet', depth=34),
        checkpoint=backbone_file(dict(type='ResNet', depth=34), seed=5))
    cfg = write_tiny_config(str(tmp_path / 'other.py'), image_folder, other)
    with pytest.raises(AssertionError, match='teacher_fingerprint') as err:
        _build(cfg, built['out'], '--basis',
               osp.join(built['out'], 'kdep_basis.pth'))
    # the advice names the tool's own option, not a config key
    assert 'Give --basis a basis file of this teacher' in str(err.value)
    assert 'remove basis_file=' not in str(err.value)
    # another pool: the replayed crop names both files
    t = ReplayCachedCrop(cache=built['out'], scale=32)
    with pytest.raises(CacheError, match='another pool'):
        t(
            dict(
                img=np.zeros((40, 40, 3), np.uint8),
                sample_idx=0,
                img_path='/elsewhere/a.png'))
    with pytest.raises(CacheError, match='holds 32-px crops'):
        ReplayCachedCrop(
            cache=built['out'], scale=64)(
                dict(img=np.zeros((40, 40, 3), np.uint8), sample_idx=0))
    # an unfinished build
    with pytest.raises(CacheError, match='did not finish'):
        TargetCache(str(tmp_path))
    # a cache of the first format (whole-shard .npz reads)
    old = tmp_path / 'old'
    old.mkdir()
    with open(osp.join(built['out'], 'manifest.json')) as f:
        manifest = dict(json.load(f), format='kdep_target_cache/1')
    (old / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match='kdep_target_cache/1.*build'):
        TargetCache(str(old))


def test_an_interrupted_build_redoes_only_the_missing_shard(built):
    out = built['out']
    keep = {
        s: os.stat(osp.join(out, f'shard_0000{s}.npy')).st_mtime_ns
        for s in (0, 2)
    }
    os.remove(osp.join(out, 'shard_00001.npy'))  # died while writing it
    os.remove(osp.join(out, 'manifest.json'))
    log = _build(built['cfg'], out)
    assert 'rank 0 builds 1 (10 images x 3 crops' in log
    for s, mtime in keep.items():
        assert os.stat(osp.join(out, f'shard_0000{s}.npy')).st_mtime_ns == \
            mtime
    m = TargetCache(out).manifest
    assert [(s['start'], s['count'])
            for s in m['shards']] == [(0, 10), (10, 10), (20, 4)]


def test_two_ranks_build_disjoint_shards(built, tmp_path):
    out = str(tmp_path / 'cache2')
    rc, log = run_launcher([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        f'--master_port={free_port()}', 'tools/build_target_cache.py',
        built['cfg'], '--out', out, '--crops', '3', '--shard-size', '10',
        '--basis',
        osp.join(built['out'], 'kdep_basis.pth'), '--launcher', 'pytorch'
    ],
                           cwd=ROOT,
                           log=str(tmp_path / 'dist.log'))
    assert rc == 0, log[-3000:]
    shards = TargetCache(out).manifest['shards']
    assert [s['rank'] for s in shards] == [0, 1, 0]
    # the same crops, and targets equal to float16 rounding (another thread
    # layout may round a last bit differently), as the single-process build
    for s in range(3):
        a = np.load(osp.join(out, f'shard_0000{s}.npy'))
        b = np.load(osp.join(built['out'], f'shard_0000{s}.npy'))
        assert np.array_equal(a['boxes'], b['boxes'])
        np.testing.assert_allclose(
            a['targets'].astype(np.float32),
            b['targets'].astype(np.float32),
            rtol=2e-3,
            atol=2e-3)


def _cached_cfg(built, path: str, epochs: int, pool: str) -> str:
    """The real cached config, shrunk, on the tiny pool and cache."""
    with open(path, 'w') as f:
        f.write(f'''_base_ = {CACHED!r}
cache = {built['out']!r}
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ReplayCachedCrop', cache=cache, scale=32),
    dict(type='ColorJitter', brightness=0.1, contrast=0.1, saturation=0.1),
    dict(type='PackInputs', algorithm_keys=('kdep_target', )),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root={pool!r},
                 ann_file='', data_prefix='', with_label=False,
                 pipeline=train_pipeline))
model = dict(cache=cache, probe_size=32, loss=dict(loss_weight=3.0))
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = []
train_cfg = dict(max_epochs={epochs})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=True)
''')
    return path


def test_cached_training_runs_without_a_teacher_and_resumes_exactly(
        built, tmp_path, image_folder):
    base = _cached_cfg(built, str(tmp_path / 'c.py'), 2, image_folder)
    straight = str(tmp_path / 'straight')
    out = run_tool(
        [sys.executable, 'tools/train.py', base, '--work-dir', straight])
    assert 'Epoch(train) [2]' in out and 'teacher features' not in out
    halves = str(tmp_path / 'halves')
    run_tool([
        sys.executable, 'tools/train.py', base, '--work-dir', halves,
        '--cfg-options', 'train_cfg.max_epochs=1'
    ])
    run_tool([
        sys.executable, 'tools/train.py', base, '--work-dir', halves,
        '--resume'
    ])
    a = student_state(osp.join(straight, 'epoch_2.pth'))
    b = student_state(osp.join(halves, 'epoch_2.pth'))
    assert all(torch.equal(a[k], b[k]) for k in a)
