"""The ``pool`` part: the unlabelled distillation images (Fashion-MNIST
train images as PNG), with label lists for the supervised baselines and
the study's class-stratified 10% subset.

Writes ``pool/{train,val}/*.png``, ``pool/meta/{train,val}_labeled.txt``,
``pool/meta/train_subset.txt`` / ``train_subset_labeled.txt`` and
``pool/meta/classes.txt``.
"""
import os
import os.path as osp

from ..assets import AssetError, PackageStore
from .common import Progress, read_idx, save_png, stratified_split, write_lines

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                         'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
FMNIST = '/usr/share/datasets/fashion-mnist/'
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'pool'
DEFAULTS = dict(train=6000, val=1000, subset=0.1, seed=0)
PACKAGES = ('dataset-fashion-mnist', )


def build(store: PackageStore, out: str, p: dict) -> dict:
    """Distillation pool: Fashion-MNIST train images (PNG), with label lists
    (``meta/*_labeled.txt``, for supervised pre-training only) and a
    class-stratified ``subset`` of train (``meta/train_subset*.txt``, the
    study's 10% pool)."""
    pkg = 'dataset-fashion-mnist'
    images = read_idx(store.file(pkg, FMNIST + 'train-images-idx3-ubyte.gz'))
    labels = read_idx(store.file(pkg, FMNIST + 'train-labels-idx1-ubyte.gz'))
    n_train, n_val = p['train'], p['val']
    if n_train + n_val > len(images):
        raise AssetError(f'the pool asks for {n_train + n_val} images; '
                         f'Fashion-MNIST train has {len(images)}')
    summary = {}
    for split, lo, hi in (('train', 0, n_train), ('val', n_train,
                                                  n_train + n_val)):
        os.makedirs(osp.join(out, split))
        bar = Progress(hi - lo, f'pool/{split}: {hi - lo} images')
        lines = []
        for i in range(lo, hi):
            name = f'{i:05d}.png'
            save_png(images[i], osp.join(out, split, name))
            lines.append(f'{name} {int(labels[i])}')
            bar.update()
        write_lines(osp.join(out, 'meta', f'{split}_labeled.txt'), lines)
        summary[split] = hi - lo
    # The study's 10% pool: the same class mix, labelled and unlabelled lists.
    part = stratified_split(labels[:n_train], (p['subset'], 1 - p['subset']),
                            p['seed'])[0]
    names = [f'{i:05d}.png' for i in part]
    write_lines(osp.join(out, 'meta', 'train_subset.txt'), names)
    write_lines(
        osp.join(out, 'meta', 'train_subset_labeled.txt'),
        [f'{n} {int(labels[i])}' for n, i in zip(names, part)])
    summary['train_subset'] = len(part)
    write_lines(osp.join(out, 'meta', 'classes.txt'), FASHION_MNIST_CLASSES)
    summary.update(
        source='Fashion-MNIST train split (first images, in file order)',
        image='28x28 grey PNG',
        classes=list(FASHION_MNIST_CLASSES))
    return summary
