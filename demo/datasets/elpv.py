"""The ``cls_elpv`` part: ELPV solar cells (electroluminescence images),
functional vs defective, resized, as an mmpretrain ``CustomDataset``.

Writes ``cls/elpv/images/*.png``, ``cls/elpv/meta/{train,val,test}.txt`` +
``classes.txt`` and ``meta/labels.csv`` (the raw defect probability and
cell type of every image).
"""
import csv
import os.path as osp

import numpy as np
from PIL import Image

from ..assets import PackageStore
from .common import stratified_split, write_cls

ELPV_CLASSES = ('functional', 'defective')
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'cls/elpv'
DEFAULTS = dict(size=128, threshold=0.5, split=(0.6, 0.2, 0.2), seed=0)
PACKAGES = ('elpv-dataset', )


def build(store: PackageStore, out: str, p: dict) -> dict:
    """ELPV solar cells, functional vs defective, resized, as ann files."""
    pkg = 'elpv-dataset'
    labels_csv = store.file(pkg, 'elpv_dataset/data/labels.csv')
    root = store.tree(pkg, 'elpv_dataset/data/images/')
    rows = []
    with open(labels_csv) as f:
        for line in f:
            if line.strip():
                path, proba, kind = line.split()
                rows.append((osp.basename(path), float(proba), kind))
    labels = [int(r[1] >= p['threshold']) for r in rows]
    strata = [lab * 2 + (r[2] == 'poly') for lab, r in zip(labels, rows)]
    tr, va, te = stratified_split(strata, p['split'], p['seed'])
    size = p['size']

    class Resized:  # decode + resize lazily, one image at a time

        def __getitem__(self, i):
            im = Image.open(osp.join(root, rows[i][0])).convert('L')
            return np.array(im.resize((size, size), Image.BILINEAR))

    names = [r[0] for r in rows]
    summary = write_cls(
        out,
        Resized(),
        labels,
        dict(train=tr, val=va, test=te),
        ELPV_CLASSES,
        names=names)
    with open(osp.join(out, 'meta', 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image', 'defect_probability', 'cell_type', 'label'])
        for (name, proba, kind), lab in zip(rows, labels):
            w.writerow([name, proba, kind, lab])
    summary.update(
        source='elpv-dataset (ELPV, CC-BY-NC-SA-4.0)',
        image=f'{size}x{size} grey PNG (from 300x300)',
        label=f'defective if defect probability >= {p["threshold"]}')
    return summary
