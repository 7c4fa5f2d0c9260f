"""The JPEG input side of ``kdep_throughput.py``: synthetic ImageNet-shaped
files, the KDEP training pipeline and a DataLoader over them.

Kept apart from the models and the timing helpers so that a benchmark
needing files can import them without the rest.
"""
import os
import os.path as osp
import time
from typing import Iterator, List

import numpy as np
import torch
from mmengine.runner import Runner


def make_jpegs(root: str, num: int, size: int) -> None:
    """``num`` ImageNet-shaped JPEGs (4:3, scaled like 500 x 375 at 224)."""
    import cv2
    w, h = max(size, round(size * 500 / 224)), max(size,
                                                   round(size * 375 / 224))
    rng = np.random.default_rng(0)
    for i in range(num):
        d = osp.join(root, f'class{i % 4}')
        os.makedirs(d, exist_ok=True)
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        img = np.clip(
            img.astype(np.int16) + rng.integers(-12, 13, img.shape), 0,
            255).astype(np.uint8)
        cv2.imwrite(
            osp.join(d, f'{i:05d}.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def train_pipeline(size: int) -> List[dict]:
    """The pipeline of ``configs/kdep/_base_`` at ``size``."""
    from mmengine.config import Config
    base = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'kdep',
        '_base_', 'kdep_in1k-10pct.py')
    pipeline = Config.fromfile(base).train_pipeline
    for t in pipeline:
        if t['type'] == 'RandomResizedCrop':
            t['scale'] = size
    return pipeline


def build_loader(root: str, size: int, batch: int, workers: int,
                 device: torch.device):
    return Runner.build_dataloader(
        dict(
            batch_size=batch,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=device.type == 'cuda',
            collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                type='CustomDataset',
                data_root=root,
                pipeline=train_pipeline(size))),
        seed=0)


def cycle(loader) -> Iterator[dict]:
    while True:
        for data in loader:
            yield data


def loader_rate(loader, iters: int, batch: int) -> float:
    """Images per second the loader alone delivers over ``iters`` batches
    (after two warm-up batches that start its workers)."""
    it = cycle(loader)
    for _ in range(2):
        next(it)
    t0 = time.perf_counter()
    for _ in range(iters):
        next(it)
    return iters * batch / (time.perf_counter() - t0)
