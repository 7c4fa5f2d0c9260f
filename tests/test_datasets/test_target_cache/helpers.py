"""A small target cache written by the writer itself (no teacher): two
columns, a pooled one and a map, over real image files."""
import os.path as osp

import numpy as np

from kdep_mm.datasets.replay_crop import crop_recipe
from kdep_mm.datasets.target_cache.writer import CacheWriter, cache_identity
from tests.helpers.datagen import make_image_folder

COLUMNS = dict(
    pooled=dict(dim=4, rank=3, d_t=8, teacher_tap='t:pool', stride=None),
    dense_s8=dict(
        dim=2,
        rank=2,
        d_t=6,
        teacher_tap='t:map8',
        stride=8,
        teacher_stride=8,
        grid=[2, 2]))
TEACHER = dict(fingerprint='f00d', tap='t:pool', model={}, checkpoint='x')


def image_paths(root: str, n: int = 5) -> list:
    make_image_folder(root, n, nested=False)
    return [osp.join(root, f'img_{i:04d}.jpg') for i in range(n)]


def targets_of(start: int, stop: int, crops: int) -> dict:
    """Deterministic targets: image i, crop c, value i + c / 10."""
    out = {}
    for name, col in COLUMNS.items():
        shape = (col['dim'], ) + tuple(col.get('grid') or ())
        out[name] = np.stack([
            np.stack(
                [np.full(shape, i + c / 10, np.float16) for c in range(crops)])
            for i in range(start, stop)
        ])
    return out


def write_cache(folder: str,
                paths: list,
                crops: int = 2,
                shard_size: int = 2,
                **identity) -> CacheWriter:
    writer = CacheWriter(
        folder,
        dict(
            cache_identity(TEACHER, 'b1', paths, crop_recipe(16), COLUMNS,
                           crops, shard_size, 0), **identity), paths)
    writer.check_resume()
    writer.write_identity()
    for shard in writer.pending(0, 1):
        start, stop = writer.shard_range(shard)
        boxes = np.tile(
            np.array([0, 0, 16, 16, 0], np.int32), (stop - start, crops, 1))
        writer.write(shard, boxes, targets_of(start, stop, crops), 0)
    writer.finish()
    return writer
