"""A cache of teacher targets: distil once, train many students.

KDEP's targets make a cache unusually cheap: the PCA directions are
nested, so one cache of each crop's projection on the top-r directions
(before PTS, which is element-wise and applied at training time) serves
every student of width k <= r. A cache holds one *column* per cached term:
``pooled`` (R x r per image) and, for map terms, ``dense_s<stride>`` (the
crop's projected teacher map on its top-r_l directions, R x r_l x h x w).
Layout of a cache folder::

    manifest.json           what the cache belongs to (checked on use)
    images.txt              the pool, one image path per line, in order
    build.json              the build's identity (a resumed build matches)
    kdep_basis.pth          the basis the projections used
    shard_00000.npy ...     per shard: one row per image (images
                            start..start+n-1) of a structured dtype,
                            ``boxes`` (R, 5) int32 crop geometry
                            (x, y, w, h, flip) and one float16 field per
                            column (``targets`` for the pooled column)
    shard_00000.json ...    per shard: start, count, sha256 of the .npy

:mod:`.layout` is the format, :mod:`.reader` reads a finished cache
(:class:`TargetCache`), :mod:`.writer` writes one (identity, resume,
shards of ranks, manifest) and :mod:`.build` runs the teacher over the
crops (the projection is the terms' own ``project``).
"""
from .layout import FORMAT, CacheError, shard_file, shard_name
from .reader import TargetCache

__all__ = ['FORMAT', 'CacheError', 'TargetCache', 'shard_file', 'shard_name']
