"""The one fingerprint of an image pool, shared by the basis file and the
target cache: which images, in which order (a cache's rows are indexed by
it; a basis pass limited to ``num_images`` depends on it too)."""
import hashlib
from typing import Iterable, List, Optional


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
