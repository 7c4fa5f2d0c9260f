"""The target cache's format: file names, the row layout of its shards,
its columns and its identity (one definition of each, used by the reader
and the writer).

Shards are written atomically (temporary file + rename), the ``.json``
after its ``.npy``, so a shard is there completely or not at all; an
interrupted build redoes only missing shards. Every rank of a DDP job reads
the same folder through memory maps (``np.load(mmap_mode='r')``): a sample
reads its own row, never a whole shard, so random access over a large pool
costs what the targets weigh. A build's ranks write disjoint shards (shard
s belongs to rank s mod world size).
"""
import json
import os.path as osp
from typing import Dict, Optional

import numpy as np

from ...utils.fileio import atomic_write, sha256_file

#: Columns per cached term (pooled and map terms).
FORMAT = 'kdep_target_cache/3'
#: The pooled-only format of before map terms (read, never written).
POOLED_FORMAT = 'kdep_target_cache/2'
#: Manifest fields a user of the cache must match.
IDENTITY = ('teacher_fingerprint', 'teacher_tap', 'basis_sha256',
            'pool_fingerprint', 'crop_recipe')
#: The field of the pooled column (its name in format 2).
POOLED_FIELD = 'targets'


class CacheError(ValueError):
    """A target cache that is missing, incomplete or belongs elsewhere."""


def shard_name(shard: int) -> str:
    return f'shard_{shard:05d}'


def shard_file(folder: str, shard: int, ext: str = '.npy') -> str:
    """The path of a shard's data (``.npy``) or record (``.json``)."""
    return osp.join(folder, shard_name(shard) + ext)


def field_of(name: str) -> str:
    """The shard field of column ``name``."""
    return POOLED_FIELD if name == 'pooled' else name


def columns_of(manifest: Dict) -> Dict[str, Dict]:
    """The columns of a manifest (or build record): per term name, its
    ``dim`` (directions stored), ``rank``, ``d_t``, ``teacher_tap``,
    ``stride`` and, for maps, ``teacher_stride`` and ``grid``. A format-2
    cache has one, ``pooled``."""
    if 'columns' in manifest:
        return manifest['columns']
    return dict(
        pooled=dict(
            dim=int(manifest['dim']),
            rank=int(manifest['rank']),
            d_t=manifest.get('teacher', {}).get('width'),
            teacher_tap=manifest['teacher_tap'],
            stride=None))


def row_dtype(crops: int, columns: Dict[str, Dict]) -> np.dtype:
    """One image's row of a shard: its R crop boxes and R targets of each
    column (float16)."""
    fields = [('boxes', np.int32, (crops, 5))]
    for name, col in columns.items():
        shape = (crops, int(col['dim'])) + tuple(col.get('grid') or ())
        fields.append((field_of(name), np.float16, shape))
    return np.dtype(fields)


def write_shard(folder: str,
                shard: int,
                start: int,
                boxes: np.ndarray,
                targets: Dict[str, np.ndarray],
                columns: Dict[str, Dict],
                rank: int = 0) -> None:
    """Write one shard atomically (the ``.npy``, then its ``.json``, which
    records the rank that built it)."""
    rows = np.empty(len(boxes), row_dtype(boxes.shape[1], columns))
    rows['boxes'] = boxes
    for name in columns:
        if targets[name].shape[:2] != boxes.shape[:2]:
            raise ValueError(f'boxes {boxes.shape} and {name} targets '
                             f'{targets[name].shape} disagree')
        rows[field_of(name)] = targets[name]
    npy = shard_file(folder, shard)
    atomic_write(npy, lambda f: np.save(f, rows))
    atomic_write(
        shard_file(folder, shard, '.json'),
        json.dumps(
            dict(
                shard=shard,
                start=int(start),
                count=int(len(boxes)),
                rank=int(rank),
                sha256=sha256_file(npy))))


def shard_done(folder: str, shard: int) -> Optional[Dict]:
    """The record of a complete shard, or None (missing, or its file does
    not match its record: redone by the next build)."""
    rec, npy = shard_file(folder, shard, '.json'), shard_file(folder, shard)
    if not (osp.isfile(rec) and osp.isfile(npy)):
        return None
    with open(rec) as f:
        info = json.load(f)
    return info if sha256_file(npy) == info['sha256'] else None


def check_manifest(manifest: Dict, expect: Dict, where: str) -> None:
    """Refuse a cache whose identity differs from ``expect`` (only the
    :data:`IDENTITY` fields that ``expect`` has), naming both sides."""
    problems = [
        f'{k}: cache has {manifest.get(k)!r}, expected {expect[k]!r}'
        for k in IDENTITY if k in expect and manifest.get(k) != expect[k]
    ]
    if problems:
        raise CacheError(
            f'the target cache {where} belongs to another teacher, basis, '
            'pool or crop recipe:\n  ' + '\n  '.join(problems) +
            '\nBuild a cache for this one (tools/build_target_cache.py) or '
            'point the config at the right folder.')
