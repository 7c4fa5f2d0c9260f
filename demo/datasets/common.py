"""What the data-set builders share: progress lines, PNG and list files,
IDX reading, seeded stratified splits and the classification layout."""
import gzip
import os
import os.path as osp
import struct
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from ..assets import AssetError


class Progress:
    """A one-line progress bar on a terminal, a few lines in a log."""

    def __init__(self, total: int, title: str):
        self.total, self.n, self.start = max(total, 1), 0, time.time()
        self.tty = sys.stdout.isatty()
        self.next_log = 0.25
        print(f'  {title}', flush=True)

    def update(self) -> None:
        self.n += 1
        frac = self.n / self.total
        if self.tty:
            bar = '#' * int(30 * frac)
            print(
                f'\r  [{bar:<30}] {self.n}/{self.total} '
                f'{time.time() - self.start:.0f}s',
                end='',
                flush=True)
            if self.n >= self.total:
                print()
        elif frac >= self.next_log or self.n >= self.total:
            print(
                f'    {self.n}/{self.total} ({time.time() - self.start:.0f}'
                ' s)',
                flush=True)
            while self.next_log <= frac:
                self.next_log += 0.25


def save_png(array: np.ndarray, path: str) -> None:
    Image.fromarray(array).save(path, optimize=False, compress_level=6)


def write_lines(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def read_idx(path: str) -> np.ndarray:
    """Read a (gzipped) IDX file, as MNIST / Fashion-MNIST ship."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack('>HBB', data[:4])
    if zero != 0 or dtype != 0x08:
        raise AssetError(f'{path} is not an unsigned-byte IDX file')
    shape = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def stratified_split(labels: Sequence, fractions: Sequence[float],
                     seed: int) -> List[List[int]]:
    """Indices per split, the same class mix in each (seeded)."""
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    out = [[] for _ in fractions]
    for c in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        bounds = np.round(np.cumsum(fractions) / sum(fractions) *
                          len(idx)).astype(int)
        start = 0
        for k, end in enumerate(bounds):
            out[k] += idx[start:end].tolist()
            start = end
    return [sorted(s) for s in out]


def write_cls(out: str,
              images: Sequence[np.ndarray],
              labels: Sequence,
              splits: Dict[str, List[int]],
              classes: Sequence[str],
              names: Optional[Sequence[str]] = None) -> dict:
    """An mmpretrain ``CustomDataset`` with annotation files:
    ``images/*.png``, ``meta/<split>.txt`` (``name label`` lines) and
    ``meta/classes.txt``; returns the counts per split and class."""
    os.makedirs(osp.join(out, 'images'))
    total = sum(len(v) for v in splits.values())
    bar = Progress(total, f'{osp.basename(out)}: {total} images')
    counts = {}
    for split, idx in splits.items():
        lines = []
        for i in idx:
            name = names[i] if names is not None else f'{i:05d}.png'
            save_png(images[i], osp.join(out, 'images', name))
            lines.append(f'{name} {int(labels[i])}')
            bar.update()
        write_lines(osp.join(out, 'meta', f'{split}.txt'), lines)
        counts[split] = len(idx)
    write_lines(osp.join(out, 'meta', 'classes.txt'), classes)
    per_class = {
        s: np.bincount(np.asarray(labels)[idx],
                       minlength=len(classes)).tolist()
        for s, idx in splits.items()
    }
    return dict(counts, per_class=per_class, classes=list(classes))
