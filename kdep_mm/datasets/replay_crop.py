"""Crops that can be replayed: sampled once when a target cache is built,
applied again, pixel for pixel, when a student trains from it.

The crop recipe is the training pipeline's geometric augmentation
(random-resized crop, horizontal flip). Photometric augmentation
(ColorJitter, Lighting) stays in the training pipeline *after* the replayed
crop, so it is student-only: the cached target was computed on the crop
without it. That keeps one cache valid for any photometric recipe and
keeps its variation per epoch (a stored jitter would be frozen R times);
the cost is that teacher and student no longer see the exact same pixels,
a gap as small as the jitter (0.1 in the paper's recipe).
"""
import math
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import dist
from mmpretrain.registry import TRANSFORMS

from .pool import dataset_paths
from .target_cache import CacheError, TargetCache


def crop_recipe(scale: int,
                crop_ratio_range: Sequence[float] = (0.08, 1.0),
                aspect_ratio_range: Sequence[float] = (3. / 4., 4. / 3.),
                flip_prob: float = 0.5,
                interpolation: str = 'bilinear') -> Dict:
    """The recipe recorded in a cache manifest (plain values)."""
    return dict(
        scale=int(scale),
        crop_ratio_range=[float(v) for v in crop_ratio_range],
        aspect_ratio_range=[float(v) for v in aspect_ratio_range],
        flip_prob=float(flip_prob),
        interpolation=str(interpolation))


def sample_box(rng: np.random.Generator, height: int, width: int,
               recipe: Dict) -> List[int]:
    """A random-resized-crop box ``[x, y, w, h, flip]``: area fraction and
    log-uniform aspect ratio from the recipe (10 attempts, then the largest
    centred crop within the aspect range)."""
    area = height * width
    lo, hi = (math.log(r) for r in recipe['aspect_ratio_range'])
    for _ in range(10):
        target = area * rng.uniform(*recipe['crop_ratio_range'])
        aspect = math.exp(rng.uniform(lo, hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            x = int(rng.integers(0, width - w + 1))
            y = int(rng.integers(0, height - h + 1))
            break
    else:
        ratio = width / height
        lo_r, hi_r = recipe['aspect_ratio_range']
        if ratio < lo_r:
            w, h = width, int(round(width / lo_r))
        elif ratio > hi_r:
            w, h = int(round(height * hi_r)), height
        else:
            w, h = width, height
        x, y = (width - w) // 2, (height - h) // 2
    flip = int(rng.uniform() < recipe['flip_prob'])
    return [x, y, w, h, flip]


def apply_box(img: np.ndarray, box: Sequence[int], recipe: Dict) -> np.ndarray:
    """Crop, resize to ``scale`` x ``scale`` and flip ``img`` by ``box``."""
    x, y, w, h, flip = (int(v) for v in box)
    out = mmcv.imcrop(img, np.array([x, y, x + w - 1, y + h - 1]))
    s = recipe['scale']
    out = mmcv.imresize(out, (s, s), interpolation=recipe['interpolation'])
    return np.ascontiguousarray(mmcv.imflip(out, 'horizontal')) if flip \
        else out


@TRANSFORMS.register_module()
class ReplayCachedCrop(BaseTransform):
    """Replay one of an image's cached crops and attach its target.

    Takes the place of ``RandomResizedCrop`` + ``RandomFlip`` in a training
    pipeline (photometric transforms may follow); each call picks one of
    the image's R crops at random (numpy's global generator: seeded per
    worker by mmengine, saved in checkpoints by ``KDEPRandomStateHook``),
    applies its geometry and puts the float16 targets of every column in
    ``results['kdep_target']`` (a dict by term name; pack it with
    ``PackInputs(algorithm_keys=('kdep_target', ))``).

    Args:
        scale (int): The crop size; must be the cache's.
        cache (str, optional): The cache folder. Leave it out: the model's
            ``cache=`` names it once and ``KDEPBasisHook`` binds it when
            training starts (a folder given here must be the model's).
    """

    def __init__(self, scale: int, cache: Optional[str] = None):
        self.cache_dir = cache
        self.scale = int(scale)
        self._cache = None

    @property
    def cache(self) -> TargetCache:
        if self.cache_dir is None:
            raise CacheError(
                'ReplayCachedCrop has no cache folder: the model\'s cache= '
                "names it and KDEPBasisHook binds it when training starts "
                "(add dict(type='KDEPBasisHook') to custom_hooks)")
        if self._cache is None:  # opened in each worker, on first use
            self._cache = TargetCache(self.cache_dir)
            have = self._cache.manifest['crop_recipe']['scale']
            if have != self.scale:
                raise CacheError(
                    f'ReplayCachedCrop(scale={self.scale}) but the cache '
                    f'{self.cache_dir} holds {have}-px crops: its targets '
                    'are the teacher on those')
        return self._cache

    def transform(self, results: Dict) -> Dict:
        cache = self.cache
        crop = int(np.random.randint(cache.num_crops))
        box, targets = cache.get(results['sample_idx'], crop,
                                 results.get('img_path'))
        img = apply_box(results['img'], box, cache.crop_recipe)
        results.update(
            img=img,
            img_shape=img.shape[:2],
            kdep_target=targets,
            kdep_crop=crop)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache={self.cache_dir!r}, '
                f'scale={self.scale})')


def _replay_transforms(dataset) -> Iterator[ReplayCachedCrop]:
    """The ReplayCachedCrop transforms of a dataset (and of the datasets
    a wrapper holds)."""
    for inner in getattr(dataset, 'datasets', None) or ():
        yield from _replay_transforms(inner)
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        yield from _replay_transforms(inner)
    pipeline = getattr(dataset, 'pipeline', None)
    for t in getattr(pipeline, 'transforms', None) or ():
        if isinstance(t, ReplayCachedCrop):
            yield t


def bind_cache(dataset, folder: str, checksums: bool = True) -> TargetCache:
    """Bind the training pipeline's replayed crops to the model's cache
    ``folder`` and check the cache against the run before any step: one
    cache per run (a pipeline naming another folder is refused, naming
    both), the crop size, the pool (which images, in which order) and every
    shard (:meth:`TargetCache.verify`; ``checksums=False`` skips the
    sha256 and finiteness pass)."""
    found = list(_replay_transforms(dataset))
    if not found:
        raise CacheError(
            f'the model reads targets from the cache {folder} but the '
            'training pipeline has no ReplayCachedCrop: replace its '
            "RandomResizedCrop and RandomFlip with dict(type="
            "'ReplayCachedCrop', scale=<crop size>)")
    cache = TargetCache(folder)
    for t in found:
        if t.cache_dir is not None and \
                osp.realpath(t.cache_dir) != osp.realpath(folder):
            raise CacheError(
                f'two target caches in one run: the model reads {folder}, '
                f'the pipeline\'s ReplayCachedCrop reads {t.cache_dir}; '
                'name the cache once, in model.cache (leave '
                'ReplayCachedCrop without cache=)')
        t.cache_dir = folder
        _ = t.cache  # opened: its crop size checked against the cache
    cache.check_pool(dataset_paths(dataset), 'the training dataset')
    cache.verify(
        checksums,
        progress=dist.is_main_process(),
        rank=dist.get_rank(),
        world=dist.get_world_size())
    return cache
