"""Writing a target cache: the build's identity (checked when a build
resumes), the shards of each rank, and the manifest once every shard is
there (the reader's proof that the build finished)."""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ...utils.fileio import atomic_write
from ..pool import pool_fingerprint
from .layout import FORMAT, CacheError, check_manifest, shard_done, write_shard

#: Build settings a resumed build must share (besides the identity).
SETTINGS = ('columns', 'crops_per_image', 'shard_size', 'seed')


def cache_identity(teacher: Dict, basis_sha256: str, paths: Sequence[str],
                   recipe: Dict, columns: Dict[str, Dict], crops: int,
                   shard_size: int, seed: int) -> Dict:
    """The manifest fields of a build (the shards are added at the end).
    The pooled column's ``dim`` / ``rank`` are repeated at the top level,
    as format 2 had them."""
    identity = dict(
        format=FORMAT,
        teacher_fingerprint=teacher['fingerprint'],
        teacher_tap=teacher['tap'],
        teacher=teacher,
        basis_sha256=basis_sha256,
        pool_fingerprint=pool_fingerprint(paths),
        num_images=len(paths),
        crop_recipe=recipe,
        crops_per_image=crops,
        columns=columns,
        dtype='float16',
        shard_size=shard_size,
        seed=seed)
    if 'pooled' in columns:
        identity.update(
            dim=columns['pooled']['dim'], rank=columns['pooled']['rank'])
    return identity


class CacheWriter:
    """Write the cache ``folder`` for ``identity`` over ``paths``.

    A folder with the ``build.json`` of another build is refused (naming
    the field); one of the same build resumes: finished shards stay.
    """

    def __init__(self, folder: str, identity: Dict, paths: Sequence[str]):
        self.folder, self.identity = folder, identity
        self.paths = [str(p) for p in paths]
        self.shard_size = int(identity['shard_size'])
        self.num_shards = -(-len(self.paths) // self.shard_size)
        os.makedirs(folder, exist_ok=True)

    @property
    def build_file(self) -> str:
        return osp.join(self.folder, 'build.json')

    def check_resume(self) -> None:
        """Refuse a folder that holds another build."""
        if not osp.isfile(self.build_file):
            return
        with open(self.build_file) as f:
            old = json.load(f)
        if old.get('format') != self.identity['format']:
            raise CacheError(
                f"{self.folder} holds a build of {old.get('format')!r}, not "
                f"{self.identity['format']!r}: finish it with the version "
                'that started it, or build into a new folder')
        check_manifest(old, self.identity, self.folder)
        for key in SETTINGS:
            if old.get(key) != self.identity[key]:
                raise CacheError(f'{self.folder} is a build with {key}='
                                 f'{old.get(key)}, not {self.identity[key]}')

    def write_identity(self) -> None:
        atomic_write(self.build_file, json.dumps(self.identity, indent=1))

    def shard_range(self, shard: int) -> Tuple[int, int]:
        start = shard * self.shard_size
        return start, min(len(self.paths), start + self.shard_size)

    def pending(self, rank: int, world: int) -> List[int]:
        """The unfinished shards of ``rank`` (shard s is rank s mod
        world's)."""
        return [
            s for s in range(self.num_shards)
            if s % world == rank and shard_done(self.folder, s) is None
        ]

    def write(self, shard: int, boxes: np.ndarray,
              targets: Dict[str, np.ndarray], rank: int) -> None:
        write_shard(self.folder, shard,
                    self.shard_range(shard)[0], boxes, targets,
                    self.identity['columns'], rank)

    def finish(self) -> None:
        """Write the image list and the manifest (every shard must be
        there)."""
        shards = [shard_done(self.folder, s) for s in range(self.num_shards)]
        missing = [s for s, rec in enumerate(shards) if rec is None]
        if missing:
            raise CacheError(f'shards {missing} are missing: run again')
        atomic_write(
            osp.join(self.folder, 'images.txt'),
            ''.join(p + '\n' for p in self.paths))
        atomic_write(
            osp.join(self.folder, 'manifest.json'),
            json.dumps(dict(self.identity, shards=shards), indent=1))
