"""The cache writer: shards of each rank, a resumed build that keeps
finished shards and refuses another build's folder, the manifest written
only when every shard is there."""
import json
import os
import os.path as osp

import pytest

from kdep_mm.datasets.target_cache import CacheError
from kdep_mm.datasets.target_cache.writer import CacheWriter, cache_identity
from .helpers import COLUMNS, TEACHER, image_paths, write_cache


def test_shards_belong_to_rank_s_mod_world(tmp_path):
    paths = [f'/p/{i}.png' for i in range(7)]
    w = CacheWriter(
        str(tmp_path), cache_identity(TEACHER, 'b', paths, {}, COLUMNS, 1, 2,
                                      0), paths)
    assert w.num_shards == 4 and w.shard_range(3) == (6, 7)
    assert w.pending(0, 2) == [0, 2] and w.pending(1, 2) == [1, 3]


def test_manifest_only_when_every_shard_is_there(tmp_path):
    paths = image_paths(str(tmp_path / 'img'))
    folder = str(tmp_path / 'c')
    w = CacheWriter(folder,
                    cache_identity(TEACHER, 'b', paths, {}, COLUMNS, 2, 2, 0),
                    paths)
    with pytest.raises(CacheError, match=r'shards \[0, 1, 2\] are missing'):
        w.finish()
    assert not osp.exists(osp.join(folder, 'manifest.json'))


def test_a_resumed_build_keeps_its_shards_and_refuses_another(tmp_path):
    paths = image_paths(str(tmp_path / 'img'))
    folder = str(tmp_path / 'c')
    write_cache(folder, paths)
    first = os.stat(osp.join(folder, 'shard_00000.npy')).st_mtime_ns
    os.remove(osp.join(folder, 'shard_00001.npy'))
    w = write_cache(folder, paths)  # the same build: only shard 1 again
    assert os.stat(osp.join(folder, 'shard_00000.npy')).st_mtime_ns == first
    with open(osp.join(folder, 'manifest.json')) as f:
        assert [s['count'] for s in json.load(f)['shards']] == [2, 2, 1]
    assert w.identity['dim'] == 4 and w.identity['rank'] == 3
    with pytest.raises(CacheError, match='crops_per_image=2, not 3'):
        write_cache(folder, paths, crops=3)
    with pytest.raises(CacheError, match='basis_sha256'):
        write_cache(folder, paths, basis_sha256='other')
    # an unfinished build started by the pooled-only version
    build = osp.join(folder, 'build.json')
    with open(build) as f:
        old = dict(json.load(f), format='kdep_target_cache/2')
    with open(build, 'w') as f:
        json.dump(old, f)
    with pytest.raises(
            CacheError,
            match="a build of 'kdep_target_cache/2', "
            "not 'kdep_target_cache/3'"):
        write_cache(folder, paths)
