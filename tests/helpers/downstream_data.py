"""Generate the downstream datasets of the integration tests in their real
on-disk layouts (test-only, no downloads).

``make_coco`` ... ``make_cub`` write a few small random images with
consistent labels under ``root`` in the exact layout the library's dataset
class and bundled configs expect, so a test only points ``data_root`` at it.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np

from tests.helpers.datagen import random_image, save_image


def _boxes(rng, h, w, n=2) -> List[Tuple[int, int, int, int]]:
    """``n`` boxes (x1, y1, x2, y2), at least a quarter of the image."""
    out = []
    for _ in range(n):
        bw, bh = int(rng.integers(w // 2, w)), int(rng.integers(h // 2, h))
        x1, y1 = int(rng.integers(0, w - bw + 1)), int(
            rng.integers(0, h - bh + 1))
        out.append((x1, y1, x1 + bw, y1 + bh))
    return out


def make_coco(root: str,
              num_images: int = 2,
              size: Tuple[int, int] = (64, 64),
              seed: int = 0) -> str:
    """COCO 2017 layout with boxes and polygon masks: ``train2017/``,
    ``val2017/``, ``annotations/instances_{train,val}2017.json``."""
    from mmdet.datasets import CocoDataset
    classes = CocoDataset.METAINFO['classes']
    rng = np.random.default_rng(seed)
    h, w = size
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split in ('train2017', 'val2017'):
        images, anns = [], []
        for i in range(num_images):
            name = f'{i:012d}.jpg'
            save_image(osp.join(root, split, name), random_image(rng, h, w))
            images.append(dict(id=i + 1, file_name=name, height=h, width=w))
            for x1, y1, x2, y2 in _boxes(rng, h, w):
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=i + 1,
                        category_id=int(rng.integers(1, 4)),
                        bbox=[x1, y1, x2 - x1, y2 - y1],
                        area=float((x2 - x1) * (y2 - y1)),
                        segmentation=[[x1, y1, x2, y1, x2, y2, x1, y2]],
                        iscrowd=0))
        cats = [
            dict(id=i + 1, name=n, supercategory='none')
            for i, n in enumerate(classes)
        ]
        with open(
                osp.join(root, 'annotations', f'instances_{split}.json'),
                'w') as f:
            json.dump(
                dict(images=images, annotations=anns, categories=cats), f)
    return root


def make_voc_det(root: str,
                 num_images: int = 2,
                 size: Tuple[int, int] = (64, 64),
                 seed: int = 0) -> str:
    """VOCdevkit layout for detection (VOC2007 and VOC2012): JPEGImages,
    Annotations (xml), ImageSets/Main/{trainval,test}.txt."""
    from mmdet.datasets import VOCDataset
    classes = VOCDataset.METAINFO['classes']
    rng = np.random.default_rng(seed)
    h, w = size
    for year in ('VOC2007', 'VOC2012'):
        base = osp.join(root, year)
        os.makedirs(osp.join(base, 'Annotations'), exist_ok=True)
        os.makedirs(osp.join(base, 'ImageSets', 'Main'), exist_ok=True)
        ids = [f'{year[-4:]}_{i:06d}' for i in range(num_images)]
        for img_id in ids:
            save_image(
                osp.join(base, 'JPEGImages', f'{img_id}.jpg'),
                random_image(rng, h, w))
            objs = ''.join(
                f'<object><name>{classes[int(rng.integers(0, 3))]}</name>'
                '<pose>Unspecified</pose><truncated>0</truncated>'
                f'<difficult>0</difficult><bndbox><xmin>{x1 + 1}</xmin>'
                f'<ymin>{y1 + 1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>'
                '</bndbox></object>' for x1, y1, x2, y2 in _boxes(rng, h, w))
            with open(osp.join(base, 'Annotations', f'{img_id}.xml'),
                      'w') as f:
                f.write(f'<annotation><folder>{year}</folder><filename>'
                        f'{img_id}.jpg</filename><size><width>{w}</width>'
                        f'<height>{h}</height><depth>3</depth></size>'
                        f'<segmented>0</segmented>{objs}</annotation>')
        for split in ('trainval', 'test'):
            with open(
                    osp.join(base, 'ImageSets', 'Main', f'{split}.txt'),
                    'w') as f:
                f.write('\n'.join(ids) + '\n')
    return root


def _label_map(rng, h, w, num_classes, ignore: Optional[int] = None):
    lab = rng.integers(0, num_classes, (h, w)).astype(np.uint8)
    lab[:h // 2, :w // 2] = lab[0, 0]  # some larger regions
    if ignore is not None:
        lab[-2:, :] = ignore
    return lab


def make_cityscapes(root: str,
                    num_images: int = 2,
                    size: Tuple[int, int] = (64, 128),
                    seed: int = 0) -> str:
    """Cityscapes layout: ``leftImg8bit/{train,val}/<city>/*_leftImg8bit
    .png`` and ``gtFine/.../*_gtFine_labelTrainIds.png`` (19 classes, 255
    ignored)."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split in ('train', 'val'):
        for i in range(num_images):
            stem = f'aachen_{i:06d}_000019'
            save_image(
                osp.join(root, 'leftImg8bit', split, 'aachen',
                         f'{stem}_leftImg8bit.png'), random_image(rng, h, w))
            save_image(
                osp.join(root, 'gtFine', split, 'aachen',
                         f'{stem}_gtFine_labelTrainIds.png'),
                _label_map(rng, h, w, 19, ignore=255))
    return root


def make_ade20k(root: str,
                num_images: int = 2,
                size: Tuple[int, int] = (64, 64),
                seed: int = 0) -> str:
    """ADEChallengeData2016 layout: ``images/{training,validation}/*.jpg``
    and ``annotations/.../*.png`` (0 = other, 1..150 the classes)."""
    rng = np.random.default_rng(seed)
    h, w = size
    for split in ('training', 'validation'):
        for i in range(num_images):
            stem = f'ADE_{split[:5]}_{i:08d}'
            save_image(
                osp.join(root, 'images', split, f'{stem}.jpg'),
                random_image(rng, h, w))
            save_image(
                osp.join(root, 'annotations', split, f'{stem}.png'),
                _label_map(rng, h, w, 151))
    return root


def make_voc_seg(root: str,
                 num_images: int = 2,
                 size: Tuple[int, int] = (64, 64),
                 seed: int = 0) -> str:
    """VOC2012 + SBD-aug layout (``root`` is ``VOCdevkit/VOC2012``):
    JPEGImages, SegmentationClass, SegmentationClassAug (png, 21 classes,
    255 ignored), ImageSets/Segmentation/{train,val,aug}.txt."""
    rng = np.random.default_rng(seed)
    h, w = size
    ids = [f'2012_{i:06d}' for i in range(num_images)]
    for img_id in ids:
        save_image(
            osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
            random_image(rng, h, w))
        lab = _label_map(rng, h, w, 21, ignore=255)
        for d in ('SegmentationClass', 'SegmentationClassAug'):
            save_image(osp.join(root, d, f'{img_id}.png'), lab)
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'), exist_ok=True)
    for split in ('train', 'val', 'aug'):
        with open(
                osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'),
                'w') as f:
            f.write('\n'.join(ids) + '\n')
    return root


def make_caltech256(root: str,
                    num_classes: int = 3,
                    per_class: int = 2,
                    size: Tuple[int, int] = (40, 40),
                    prefix: str = '256_ObjectCategories',
                    seed: int = 0) -> str:
    """Caltech-256 style image folder with annotation lists:
    ``<prefix>/<class>/<img>.jpg`` and ``meta/{train_60,test}.txt`` lines
    ``<class>/<img>.jpg <label>`` (both lists name every image here)."""
    rng = np.random.default_rng(seed)
    h, w = size
    lines = []
    for c in range(num_classes):
        cname = f'{c + 1:03d}.class{c}'
        for i in range(per_class):
            rel = f'{cname}/{c + 1:03d}_{i:04d}.jpg'
            save_image(osp.join(root, prefix, rel), random_image(rng, h, w))
            lines.append(f'{rel} {c}')
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for name in ('train_60.txt', 'test.txt'):
        with open(osp.join(root, 'meta', name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def make_cub(root: str,
             num_classes: int = 3,
             per_class: int = 2,
             size: Tuple[int, int] = (40, 40),
             seed: int = 0) -> str:
    """CUB_200_2011 layout: images/<class>/*.jpg, images.txt,
    image_class_labels.txt, train_test_split.txt (every image in both
    splits: the first of each class for test, the rest for train)."""
    rng = np.random.default_rng(seed)
    h, w = size
    images, labels, split = [], [], []
    idx = 0
    for c in range(num_classes):
        cname = f'{c + 1:03d}.Bird_{c}'
        for i in range(per_class):
            idx += 1
            rel = f'{cname}/Bird_{c}_{i:04d}.jpg'
            save_image(osp.join(root, 'images', rel), random_image(rng, h, w))
            images.append(f'{idx} {rel}')
            labels.append(f'{idx} {c + 1}')
            split.append(f'{idx} {0 if i == 0 else 1}')
    for name, lines in (('images.txt', images), ('image_class_labels.txt',
                                                 labels),
                        ('train_test_split.txt', split)):
        with open(osp.join(root, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root
