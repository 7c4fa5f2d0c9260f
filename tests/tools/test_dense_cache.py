"""Dense targets from a target cache, end to end: tools/build_target_cache.py
on the pooled + dense config (a column per term), the stored projections
against the online teacher on the same crop (pooled and every map, before
and after PTS), and the cached pooled + dense config training with no
teacher built (``--preflight`` included)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from kdep_mm.datasets import TargetCache
from kdep_mm.datasets.replay_crop import apply_box
from kdep_mm.datasets.transforms import LoadImageFromFileSafe
from kdep_mm.models.taps import map_rows, resample_map
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.kdep_tiny_cfg import write_tiny_config
from tests.helpers.tiny import ROOT, config_path, run_tool

POOLED_DENSE = config_path(
    'kdep/kdep-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py')
CACHED_PD = config_path(
    'kdep/kdep-cached-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py')
TERMS = ('pooled', 'dense_s8', 'dense_s16', 'dense_s32')


@pytest.fixture(scope='module')
def built(tmp_path_factory, image_folder, r34_teacher):
    root = tmp_path_factory.mktemp('dense_cache')
    cfg = write_tiny_config(
        str(root / 'pd.py'),
        image_folder,
        r34_teacher,
        epochs=1,
        base=POOLED_DENSE)
    out = str(root / 'cache')
    log = run_tool([
        sys.executable, 'tools/build_target_cache.py', cfg, '--out', out,
        '--crops', '2', '--shard-size', '12'
    ])
    return dict(cfg=cfg, out=out, log=log)


def test_a_column_per_term_with_its_grid_and_bytes(built):
    cache = TargetCache(built['out'])
    assert sorted(cache.columns) == sorted(TERMS)
    # ResNet-34 teacher at 32 px: maps 4x4, 2x2, 1x1; r_l = the student's
    # width there (128, 256, 512), the pooled r = 512
    grids = {n: c.get('grid') for n, c in cache.columns.items()}
    assert grids == dict(
        pooled=None, dense_s8=[4, 4], dense_s16=[2, 2], dense_s32=[1, 1])
    dims = {n: c['dim'] for n, c in cache.columns.items()}
    assert dims == dict(pooled=512, dense_s8=128, dense_s16=256, dense_s32=512)
    rows = np.load(osp.join(built['out'], 'shard_00000.npy'), mmap_mode='r')
    # per crop: 5 int32 + float16 of 512 + 128*16 + 256*4 + 512
    assert rows.dtype.itemsize == 2 * (5 * 4 + 2 * (512 + 2048 + 1024 + 512))


def test_stored_projections_equal_the_online_teacher(built):
    cfg = Config.fromfile(built['cfg'])
    model = build_mmpretrain(
        dict(cfg.model, basis_file=osp.join(built['out'], 'kdep_basis.pth')))
    cache = TargetCache(built['out'])
    load = LoadImageFromFileSafe()
    for index in (0, 13, 23):
        for crop in range(2):
            box, stored = cache.get(index, crop, cache.images[index])
            img = load(dict(img_path=cache.images[index]))['img']
            x = torch.from_numpy(apply_box(img, box, cache.crop_recipe))
            inputs = model.data_preprocessor(
                dict(inputs=[x.permute(2, 0, 1)]))['inputs']
            teacher = model.teacher_outputs(inputs)
            for term in model.terms:
                z = torch.from_numpy(stored[term.name].astype(np.float32))
                f_t = teacher[term.name]
                if term.is_map:  # the teacher's map, projected per location
                    h, w = f_t.shape[-2:]
                    online = term.align.project(map_rows(f_t)).reshape(
                        h, w, -1).permute(2, 0, 1)
                else:
                    online = term.align.project(f_t)[0]
                # float16 storage: a relative error of 2^-11 per value
                torch.testing.assert_close(z, online, rtol=2e-3, atol=2e-3)
                # the distilled PTS targets on the student grid agree too
                if term.is_map:
                    grid = {8: (4, 4), 16: (2, 2), 32: (1, 1)}[term.stride]
                    cached = map_rows(resample_map(z[None], grid))
                    want = term.align.target(
                        map_rows(resample_map(f_t.float(), grid)))
                else:
                    cached, want = z[None], term.align.target(f_t)
                r = term.align.num_targets
                torch.testing.assert_close(
                    term.align.scale(cached)[:, :r],
                    want[:, :r],
                    rtol=5e-3,
                    atol=5e-3)


def _cached_cfg(cfg: str, cache: str, pool: str) -> str:
    """The cached pooled + dense config, shrunk, on the tiny pool."""
    with open(cfg, 'w') as f:
        f.write(f'''_base_ = {CACHED_PD!r}
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='ReplayCachedCrop', scale=32),
    dict(type='PackInputs', algorithm_keys=('kdep_target', )),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(data_root={pool!r},
                 ann_file='', data_prefix='', with_label=False,
                 pipeline=train_pipeline))
model = dict(cache={cache!r}, probe_size=32)
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = []
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0, deterministic=True)
''')
    return cfg


def test_cached_pooled_dense_trains_with_no_teacher(built, tmp_path,
                                                    image_folder):
    cfg = _cached_cfg(
        str(tmp_path / 'cached_pd.py'), built['out'], image_folder)
    model = build_mmpretrain(Config.fromfile(cfg).model)
    assert model.teacher is None and not model.needs_teacher
    assert [t.source for t in model.terms] == ['cache'] * 4
    out = run_tool([
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'work'), '--preflight'
    ])
    # --preflight runs for a cached run too (it reads images)
    assert 'KDEP pre-flight: 24 images decoded' in out
    assert 'bound to the training pipeline, pool and shards checked' in out
    assert 'teacher features' not in out  # no basis pass: no teacher
    for name in TERMS[1:]:
        assert f'loss_{name}: ' in out, name


def test_a_changed_shard_stops_the_run_before_any_step(built, tmp_path,
                                                       image_folder):
    """One flipped byte in a shard: tools/train.py stops at start naming the
    shard, the cache and the command that rebuilds only that shard;
    ``--skip-cache-check`` (for huge caches) trains on it."""
    import shutil
    cache = str(tmp_path / 'cache')
    shutil.copytree(built['out'], cache)
    npy = osp.join(cache, 'shard_00001.npy')
    with open(npy, 'r+b') as f:
        f.seek(-5, 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x01]))
    cfg = _cached_cfg(str(tmp_path / 'c.py'), cache, image_folder)
    args = [
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'work')
    ]
    proc = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and 'Epoch(train)' not in out
    assert f'shard {npy} does not match its recorded sha256' in out
    assert f'rebuild only that shard: rm {npy}' in out
    assert 'tools/build_target_cache.py' in out and '--crops 2' in out
    out = run_tool(args + ['--skip-cache-check'])
    assert '(checksums skipped)' in out and 'Epoch(train) [1]' in out
