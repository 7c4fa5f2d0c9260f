"""The one fingerprint of an image pool, shared by the basis file and the
target cache: which images, in which order (a cache's rows are indexed by
it; a basis pass limited to ``num_images`` depends on it too)."""
import hashlib
from typing import Iterable, List, NamedTuple, Optional


def dataset_paths(dataset) -> List[str]:
    """The image paths of a dataset, in index order (an index where a
    dataset has no path)."""
    paths = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i) if hasattr(dataset,
                                                   'get_data_info') else {}
        paths.append(str(info.get('img_path', i)))
    return paths


def pool_fingerprint(paths: Iterable[str],
                     num_images: Optional[int] = None) -> str:
    """A short hash of the pool's image paths, in order (and of a
    ``num_images`` limit, if one is set)."""
    h = hashlib.sha256()
    if num_images is not None:
        h.update(f'num_images={num_images}\n'.encode())
    for p in paths:
        h.update(str(p).encode() + b'\n')
    return h.hexdigest()[:16]


class PoolId(NamedTuple):
    """What a basis file is checked against: the pool's
    :func:`pool_fingerprint`, the older form that basis files written
    before it carry (:func:`sorted_pool_fingerprint`; None if unknown) and
    the number of images (None if unknown)."""
    fingerprint: str
    sorted_form: Optional[str] = None
    size: Optional[int] = None


def sorted_pool_fingerprint(paths: Iterable[str],
                            num_images: Optional[int] = None) -> str:
    """The pool fingerprint of older basis files: the limit always hashed,
    the paths sorted (the same images in another order match)."""
    h = hashlib.sha256(f'num_images={num_images}\n'.encode())
    for p in sorted(str(p) for p in paths):
        h.update(p.encode() + b'\n')
    return h.hexdigest()[:16]


def pool_id(paths: Iterable[str], num_images: Optional[int] = None) -> PoolId:
    """The :class:`PoolId` of the image paths (with a ``num_images``
    limit, if one is set)."""
    paths = list(paths)
    return PoolId(
        pool_fingerprint(paths, num_images),
        sorted_pool_fingerprint(paths, num_images), len(paths))
