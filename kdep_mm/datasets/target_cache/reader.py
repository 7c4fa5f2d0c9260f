"""Reading a finished target cache: the manifest, the image list and a
crop's targets (memory-mapped, row by row)."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import ProgressBar

from ...utils.fileio import sha256_file
from ..pool import pool_fingerprint
from .layout import (FORMAT, POOLED_FORMAT, CacheError, columns_of, field_of,
                     row_dtype, shard_file)


class TargetCache:
    """Read a finished cache folder (the only reader of its files).

    Args:
        folder (str): The cache folder.

    Raises:
        CacheError: No manifest (the build did not finish), a format this
            version does not read, or a shard that is missing or damaged
            (when it is first read).
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
        if self.manifest.get('format') not in (FORMAT, POOLED_FORMAT):
            raise CacheError(
                f"{path} is a {self.manifest.get('format')!r} manifest, not "
                f'a {FORMAT} one: build the cache again with this version '
                '(tools/build_target_cache.py into a new folder)')
        self._images: Optional[List[str]] = None
        self.columns: Dict[str, Dict] = columns_of(self.manifest)
        self.shard_size = int(self.manifest['shard_size'])
        self._open: Dict[int, np.ndarray] = {}

    @property
    def images(self) -> List[str]:
        """The pool, in order (read on first use)."""
        if self._images is None:
            with open(osp.join(self.folder, 'images.txt')) as f:
                self._images = [line.rstrip('\n') for line in f]
        return self._images

    @property
    def num_crops(self) -> int:
        return int(self.manifest['crops_per_image'])

    @property
    def dim(self) -> int:
        """Directions of the pooled column."""
        return int(self.columns['pooled']['dim'])

    @property
    def teacher(self) -> Dict:
        """The teacher's description (as the online model records it)."""
        return self.manifest['teacher']

    @property
    def crop_recipe(self) -> Dict:
        return self.manifest['crop_recipe']

    def record(self) -> Dict:
        """What a checkpoint trained from this cache records of it."""
        return dict(
            folder=self.folder,
            basis_sha256=self.manifest['basis_sha256'],
            crops_per_image=self.num_crops)

    def check_columns(self, names: Sequence[str]) -> None:
        """Refuse terms the cache has no column for, naming both sides."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise CacheError(
                f'the target cache {self.folder} has no column for the terms '
                f'{missing} (it holds {sorted(self.columns)}): build it from '
                'a config with these terms (tools/build_target_cache.py), or '
                'read those terms online (source=teacher)')

    def check_teacher(self, fingerprint: str) -> None:
        """Refuse mixing terms of this cache with a teacher online that is
        not the cache's, naming both."""
        have = self.manifest.get('teacher_fingerprint')
        if have != fingerprint:
            raise CacheError(
                f'the target cache {self.folder} was built with teacher '
                f'{have!r} ({self.teacher.get("checkpoint")}), the model\'s '
                f'online teacher is {fingerprint!r}: its terms would mix two '
                'teachers; read every term from the cache, or build the cache '
                'with this teacher')

    def check_teachers(self, names: Sequence[str],
                       fingerprints: Dict[str, str]) -> None:
        """Refuse a cache of other teachers than a model of several
        (``names``, in order: the order fixes each one's slice of the
        student), or whose teacher ``name`` is not the one the model
        built online (``fingerprints``), naming the teacher and both
        sides."""
        listed = self.teacher.get('teachers') or [dict(self.teacher, name='')]
        have = [t.get('name', '') for t in listed]
        prints = {t.get('name', ''): t.get('fingerprint') for t in listed}
        problems = [
            f'teacher {i}: the cache has {a!r}, the model {b!r}'
            for i, (a, b) in enumerate(zip(have, names)) if a != b
        ]
        if len(have) != len(names):
            problems.append(f'the cache has {len(have)} teachers {have}, '
                            f'the model {len(names)} {list(names)}')
        problems += [
            f'teacher {n}: the cache was built with {prints[n]!r}, the '
            f'model\'s online {n} is {fp!r}' for n, fp in fingerprints.items()
            if n in prints and prints[n] != fp
        ]
        if problems:
            raise CacheError(
                f'the target cache {self.folder} was built for other '
                'teachers:\n  ' + '\n  '.join(problems) + '\nBuild a cache '
                'for these teachers in this order '
                '(tools/build_target_cache.py), or name them as it does.')

    def check_pool(self, paths: Sequence[str], where: str) -> None:
        """Refuse a training pool other than the cache's, naming both: the
        dataset's image i must be the cache's image i (the same pool in the
        same order, or its first images, e.g. ``indices=N``)."""
        paths = [str(p) for p in paths]
        if paths == self.images[:len(paths)] and paths:
            return
        first = next(
            (i for i, (a, b) in enumerate(zip(paths, self.images)) if a != b),
            min(len(paths), len(self.images)))
        raise CacheError(
            f'{where} reads another pool than the target cache '
            f'{self.folder} was built for (pool fingerprint '
            f'{pool_fingerprint(paths)!r}, {len(paths)} images; the cache '
            f"has {self.manifest['pool_fingerprint']!r}, {len(self.images)} "
            f'images; the first difference is at index {first}); rebuild '
            'the cache for this pool, or train on the pool it was built for')

    def rebuild_hint(self, shard: int) -> str:
        """The commands that rebuild only ``shard`` (a build redoes the
        shards that are missing)."""
        cmd = self.manifest.get('build_command') or (
            'python tools/build_target_cache.py <the config it was built '
            f'from> --out {self.folder} --crops {self.num_crops} '
            f"--shard-size {self.shard_size} --seed "
            f"{self.manifest.get('seed', 0)}")
        npy = shard_file(self.folder, shard)
        return (f'rebuild only that shard: rm {npy} '
                f"{shard_file(self.folder, shard, '.json')} && {cmd}")

    def verify(self,
               checksums: bool = True,
               progress: bool = True,
               rank: int = 0,
               world: int = 1) -> None:
        """Check every shard before training: present, readable as the
        manifest's rows (dtype, count), and, with ``checksums``, matching
        its recorded sha256 and holding finite targets. The first failure
        names the shard, the cache and the command that rebuilds it. The
        ranks of a job share the work: rank r checks shards r, r + world,
        ... (together, every shard once)."""
        shards = (self.manifest.get('shards') or [])[rank::world]
        bar = ProgressBar(len(shards)) if progress and shards else None
        for rec in shards:
            self._verify_shard(int(rec['shard']), rec, checksums)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.file.write('\n')

    def _verify_shard(self, shard: int, rec: Dict, checksums: bool) -> None:
        npy = shard_file(self.folder, shard)

        def refuse(problem: str):
            raise CacheError(f'target cache {self.folder}: shard {npy} '
                             f'{problem}; {self.rebuild_hint(shard)}')

        if not osp.isfile(npy):
            refuse('is missing')
        try:
            rows = np.load(npy, mmap_mode='r')
        except ValueError as e:  # truncated, object dtype, not an array
            refuse(f'cannot be read as an array ({e})')
        if rows.dtype != row_dtype(self.num_crops, self.columns) or \
                len(rows) != int(rec['count']):
            refuse(f'holds {len(rows)} rows of {rows.dtype}, the manifest '
                   f"says {rec['count']} of "
                   f'{row_dtype(self.num_crops, self.columns)}')
        if not checksums:
            return
        if sha256_file(npy) != rec['sha256']:
            refuse('does not match its recorded sha256 (its bytes changed '
                   'after it was written)')
        for name in self.columns:
            values = rows[field_of(name)]
            if not np.isfinite(values).all():
                refuse(f'holds non-finite {name} targets '
                       f'({int((~np.isfinite(values)).sum())} values)')

    def _shard(self, shard: int) -> np.ndarray:
        """The shard's rows, memory-mapped (opened once per process)."""
        if shard not in self._open:
            npy = shard_file(self.folder, shard)
            if not osp.isfile(npy):
                raise CacheError(f'{npy} is missing from the cache')
            rows = np.load(npy, mmap_mode='r')
            want = row_dtype(self.num_crops, self.columns)
            if rows.dtype != want:
                raise CacheError(f'{npy} holds rows of {rows.dtype}, the '
                                 f'manifest says {want}: damaged cache')
            self._open[shard] = rows
        return self._open[shard]

    def get(
        self,
        index: int,
        crop: int,
        img_path: Optional[str] = None
    ) -> Tuple[List[int], Dict[str, np.ndarray]]:
        """Crop ``crop`` of image ``index``: ``(box, targets)`` with box =
        (x, y, w, h, flip) and, per column, its float16 projection ((r, )
        or (r_l, h, w); float16 all the way to the training device, where
        the model widens it: half the bytes to collate and copy). With
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
        return (entry['boxes'][crop].tolist(), {
            name: np.array(entry[field_of(name)][crop])
            for name in self.columns
        })
