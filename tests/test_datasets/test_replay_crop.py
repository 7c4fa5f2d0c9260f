"""Replayed crops bound to the model's one cache when training starts: a
pipeline without ReplayCachedCrop, a second cache, a pool the cache was not
built for and a crop size it does not hold are refused before any step,
each naming both sides; an unbound transform says how to bind it."""
import numpy as np
import pytest
from mmengine.dataset import Compose

from kdep_mm.datasets import CacheError, ReplayCachedCrop, bind_cache
from tests.test_datasets.test_target_cache.helpers import (image_paths,
                                                           write_cache)


class _Dataset:

    def __init__(self, paths, transforms):
        self.paths = paths
        self.pipeline = Compose(transforms)

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])


@pytest.fixture
def cache(tmp_path):
    paths = image_paths(str(tmp_path / 'img'))
    write_cache(str(tmp_path / 'c'), paths)
    return str(tmp_path / 'c'), paths


def test_bind_fills_the_folder_and_replays_every_column(cache):
    folder, paths = cache
    t = ReplayCachedCrop(scale=16)
    with pytest.raises(CacheError, match="model's cache= names it"):
        t(dict(img=np.zeros((20, 20, 3), np.uint8), sample_idx=0))
    bind_cache(_Dataset(paths, [t]), folder)
    out = t(
        dict(
            img=np.zeros((20, 20, 3), np.uint8),
            sample_idx=2,
            img_path=paths[2]))
    assert out['img'].shape == (16, 16, 3)
    assert sorted(out['kdep_target']) == ['dense_s8', 'pooled']


def test_refusals_before_any_step(cache, tmp_path):
    folder, paths = cache
    with pytest.raises(CacheError, match='no ReplayCachedCrop'):
        bind_cache(_Dataset(paths, []), folder)
    other = str(tmp_path / 'other')
    write_cache(other, paths)
    with pytest.raises(
            CacheError,
            match=f'two target caches in one run: '
            f'the model reads {folder}, the pipeline.s '
            f'ReplayCachedCrop reads {other}'):
        bind_cache(
            _Dataset(paths, [ReplayCachedCrop(scale=16, cache=other)]), folder)
    with pytest.raises(CacheError, match='holds 16-px crops'):
        bind_cache(_Dataset(paths, [ReplayCachedCrop(scale=32)]), folder)
    with pytest.raises(CacheError, match='another pool'):
        bind_cache(_Dataset(paths[::-1], [ReplayCachedCrop(scale=16)]), folder)
    # the same folder named in both places (older configs): accepted
    bind_cache(
        _Dataset(paths, [ReplayCachedCrop(scale=16, cache=folder)]), folder)
