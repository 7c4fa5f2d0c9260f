"""A cache of teacher targets: distil once, train many students.

KDEP's targets make a cache unusually cheap: the PCA directions are
nested, so one cache of each crop's projection on the top-r directions
(before PTS, which is element-wise and applied at training time) serves
every student of width k <= r. Layout of a cache folder::

    manifest.json           what the cache belongs to (checked on use)
    images.txt              the pool, one image path per line, in order
    shard_00000.npy ...     per shard: one row per image (images
                            start..start+n-1) of a structured dtype,
                            ``boxes`` (R, 5) int32 crop geometry
                            (x, y, w, h, flip) and ``targets`` (R, r)
                            float16
    shard_00000.json ...    per shard: start, count, sha256 of the .npy

Shards are written atomically (temporary file + rename), the ``.json``
after its ``.npy``, so a shard is there completely or not at all; an
interrupted build redoes only missing shards. Every rank of a DDP job reads
the same folder through memory maps (``np.load(mmap_mode='r')``): a sample
reads its own row (R x (20 + 2r) bytes), never a whole shard, so random
access over a large pool costs what the targets weigh, and the page cache is
shared by the processes of a machine. A build's ranks write disjoint
shards (shard s belongs to rank s mod world size). The manifest records
the teacher fingerprint and tap, the basis digest, the pool's fingerprint
and the crop recipe: a cache is refused where any differs
(:func:`check_manifest`).
"""
import hashlib
import json
import os.path as osp
from typing import Dict, Iterable, List, Optional

import numpy as np

from ..utils.fileio import atomic_write, sha256_file

FORMAT = 'kdep_target_cache/2'
#: Manifest fields a user of the cache must match.
IDENTITY = ('teacher_fingerprint', 'teacher_tap', 'basis_sha256',
            'pool_fingerprint', 'crop_recipe')


class CacheError(ValueError):
    """A target cache that is missing, incomplete or belongs elsewhere."""


def shard_name(shard: int) -> str:
    return f'shard_{shard:05d}'


def shard_file(folder: str, shard: int, ext: str = '.npy') -> str:
    """The path of a shard's data (``.npy``) or record (``.json``)."""
    return osp.join(folder, shard_name(shard) + ext)


def pool_fingerprint(paths: Iterable[str]) -> str:
    """A short hash of the pool's image paths, in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p).encode() + b'\n')
    return h.hexdigest()[:16]


def row_dtype(crops: int, dim: int) -> np.dtype:
    """One image's row of a shard: its R crop boxes and R targets."""
    return np.dtype([('boxes', np.int32, (crops, 5)),
                     ('targets', np.float16, (crops, dim))])


def write_shard(folder: str,
                shard: int,
                start: int,
                boxes: np.ndarray,
                targets: np.ndarray,
                rank: int = 0) -> None:
    """Write one shard atomically (the ``.npy``, then its ``.json``, which
    records the rank that built it)."""
    if boxes.shape[:2] != targets.shape[:2]:
        raise ValueError(f'boxes {boxes.shape} and targets {targets.shape} '
                         'disagree')
    rows = np.empty(len(boxes), row_dtype(targets.shape[1], targets.shape[2]))
    rows['boxes'] = boxes
    rows['targets'] = targets
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


class TargetCache:
    """Read a finished cache folder.

    Args:
        folder (str): The cache folder.

    Raises:
        CacheError: No manifest (the build did not finish) or a shard the
            manifest lists is missing or damaged.
    """

    def __init__(self, folder: str):
        self.folder = folder
        path = osp.join(folder, 'manifest.json')
        if not osp.isfile(path):
            raise CacheError(
                f'{folder} has no manifest.json: not a target cache, or its '
                'build did not finish (run tools/build_target_cache.py again '
                'to complete it)')
        with open(path) as f:
            self.manifest = json.load(f)
        if self.manifest.get('format') != FORMAT:
            raise CacheError(
                f"{path} is a {self.manifest.get('format')!r} manifest, not "
                f'a {FORMAT} one: build the cache again with this version '
                '(tools/build_target_cache.py into a new folder)')
        with open(osp.join(folder, 'images.txt')) as f:
            self.images: List[str] = [line.rstrip('\n') for line in f]
        self.shard_size = int(self.manifest['shard_size'])
        self._open: Dict[int, np.ndarray] = {}

    @property
    def num_crops(self) -> int:
        return int(self.manifest['crops_per_image'])

    @property
    def dim(self) -> int:
        return int(self.manifest['dim'])

    def _shard(self, shard: int) -> np.ndarray:
        """The shard's rows, memory-mapped (opened once per process)."""
        if shard not in self._open:
            npy = shard_file(self.folder, shard)
            if not osp.isfile(npy):
                raise CacheError(f'{npy} is missing from the cache')
            rows = np.load(npy, mmap_mode='r')
            want = row_dtype(self.num_crops, self.dim)
            if rows.dtype != want:
                raise CacheError(f'{npy} holds rows of {rows.dtype}, the '
                                 f'manifest says {want}: damaged cache')
            self._open[shard] = rows
        return self._open[shard]

    def get(self, index: int, crop: int, img_path: Optional[str] = None):
        """Crop ``crop`` of image ``index``: ``(box, target)`` with box =
        (x, y, w, h, flip) and the float32 (r, ) projection. With
        ``img_path``, refuse an image that is not the cache's."""
        if img_path is not None and (index >= len(self.images)
                                     or self.images[index] != str(img_path)):
            have = self.images[index] if index < len(self.images) else None
            raise CacheError(
                f'image {index} of this dataset is {img_path}, the target '
                f'cache {self.folder} has {have}: the cache was built for '
                'another pool (or another order); rebuild it for this one')
        shard, row = divmod(index, self.shard_size)
        entry = self._shard(shard)[row]
        return (entry['boxes'][crop].tolist(),
                entry['targets'][crop].astype(np.float32))
