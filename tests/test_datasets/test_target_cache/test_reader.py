"""The cache reader: a crop's targets of every column (float16, as
stored), the refusals of a cache that lacks a term's column or was built
for another pool, and a format-2 cache still read."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from kdep_mm.datasets.target_cache import CacheError, TargetCache
from .helpers import image_paths, write_cache


@pytest.fixture
def cache(tmp_path):
    paths = image_paths(str(tmp_path / 'img'))
    write_cache(str(tmp_path / 'c'), paths)
    return TargetCache(str(tmp_path / 'c')), paths


def test_get_returns_every_column_of_the_crop(cache):
    c, paths = cache
    box, targets = c.get(3, 1, paths[3])
    assert box == [0, 0, 16, 16, 0]
    assert sorted(targets) == ['dense_s8', 'pooled']
    assert targets['pooled'].dtype == np.float16
    assert targets['dense_s8'].shape == (2, 2, 2)
    np.testing.assert_array_equal(targets['pooled'],
                                  np.full(4, 3.1, np.float16))
    assert c.record() == dict(
        folder=c.folder, basis_sha256='b1', crops_per_image=2)
    with pytest.raises(CacheError, match='another pool'):
        c.get(3, 1, paths[2])


def test_columns_and_pool_are_checked_naming_both(cache):
    c, paths = cache
    c.check_columns(['pooled', 'dense_s8'])
    with pytest.raises(
            CacheError,
            match=r"no column for the terms "
            r"\['dense_s16'\] \(it holds \['dense_s8', "
            r"'pooled'\]\)"):
        c.check_columns(['pooled', 'dense_s16'])
    c.check_pool(paths, 'the dataset')
    c.check_pool(paths[:3], 'the dataset')  # its first images: fine
    with pytest.raises(CacheError, match='first difference is at index 0'):
        c.check_pool(paths[::-1], 'the dataset')


def test_a_format_2_cache_is_read_as_its_pooled_column(tmp_path):
    paths = image_paths(str(tmp_path / 'img'))
    folder = str(tmp_path / 'c')
    write_cache(folder, paths)
    with open(osp.join(folder, 'manifest.json')) as f:
        manifest = json.load(f)
    # a format-2 manifest has no columns; its shards only 'targets'
    manifest = {k: v for k, v in manifest.items() if k != 'columns'}
    manifest['format'] = 'kdep_target_cache/2'
    for shard in range(3):
        npy = osp.join(folder, f'shard_{shard:05d}.npy')
        rows = np.load(npy)
        old = np.empty(
            len(rows), [('boxes', np.int32, (2, 5)),
                        ('targets', np.float16, (2, 4))])
        old['boxes'], old['targets'] = rows['boxes'], rows['targets']
        np.save(npy, old)
    with open(osp.join(folder, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    c = TargetCache(folder)
    assert list(c.columns) == ['pooled'] and c.dim == 4
    _, targets = c.get(4, 0, paths[4])
    np.testing.assert_array_equal(targets['pooled'], np.full(4, 4, 'f2'))


def _damage(tmp_path, how):
    paths = image_paths(str(tmp_path / 'img'))
    folder = str(tmp_path / 'c')
    write_cache(folder, paths)
    npy = osp.join(folder, 'shard_00001.npy')
    if how == 'flip':  # one byte of the targets
        with open(npy, 'r+b') as f:
            f.seek(os.path.getsize(npy) - 3)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif how == 'truncate':
        with open(npy, 'r+b') as f:
            f.truncate(os.path.getsize(npy) - 10)
    elif how == 'delete':
        os.remove(npy)
    elif how == 'object':
        np.save(npy, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    return TargetCache(folder), npy


@pytest.mark.parametrize('how, match', [
    ('flip', 'does not match its recorded sha256'),
    ('truncate', 'cannot be read as an array'),
    ('delete', 'is missing'),
    ('object', 'cannot be read as an array'),
])
def test_a_damaged_shard_is_named_with_its_rebuild(tmp_path, how, match):
    cache, npy = _damage(tmp_path, how)
    with pytest.raises(CacheError) as err:
        cache.verify(progress=False)
    msg = str(err.value)
    assert match in msg and npy in msg
    assert f'rebuild only that shard: rm {npy}' in msg
    assert 'tools/build_target_cache.py' in msg


def test_skipping_checksums_still_checks_presence_and_rows(tmp_path):
    cache, _ = _damage(tmp_path / 'a', 'flip')
    cache.verify(checksums=False, progress=False)  # a flipped byte passes
    cache, _ = _damage(tmp_path / 'b', 'truncate')
    with pytest.raises(CacheError, match='cannot be read as an array'):
        cache.verify(checksums=False, progress=False)


def test_non_finite_targets_are_named_as_the_caches(tmp_path, monkeypatch):
    """A shard whose sha256 is right but whose targets decode to NaN (the
    build wrote them): refused as the cache's, not left to look like a
    divergence of training."""
    from . import helpers
    real = helpers.targets_of

    def nan_targets(start, stop, crops):
        out = real(start, stop, crops)
        if start == 2:
            out['dense_s8'][0, 0, 0, 0, 0] = np.nan
        return out

    monkeypatch.setattr(helpers, 'targets_of', nan_targets)
    folder = str(tmp_path / 'c')
    write_cache(folder, image_paths(str(tmp_path / 'img')))
    with pytest.raises(
            CacheError,
            match=r'shard_00001.npy holds '
            r'non-finite dense_s8 targets \(1 values\)'):
        TargetCache(folder).verify(progress=False)


def test_the_ranks_of_a_job_share_the_check(tmp_path):
    """Rank r checks shards r, r + world, ...: the damaged shard 1 is found
    by rank 1 of 2, not by rank 0, and by the single process."""
    cache, npy = _damage(tmp_path, 'flip')
    cache.verify(progress=False, rank=0, world=2)  # shards 0 and 2
    with pytest.raises(CacheError, match='shard_00001.npy'):
        cache.verify(progress=False, rank=1, world=2)
