"""The ``det_trees`` part: deepforest's aerial tree crowns (NEON RGB,
10 cm), tiled, as COCO json + PNG tiles for mmdet's ``CocoDataset``.

Writes ``det/trees/images/*.png`` and ``det/trees/annotations/{train,val,
test}.json``.
"""
import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List

import numpy as np
from PIL import Image

from ..assets import PackageStore
from .common import save_png

TREE_CLASSES = ('Tree', )
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
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'det/trees'
DEFAULTS = dict(tile=256, min_visible=0.5)
PACKAGES = ('deepforest', )


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


def _tile_region(store: PackageStore, out: str, coco: dict, stem: str,
                 top: float, bottom: float, p: dict) -> None:
    """Add the tiles (with at least one box) of one band of an image."""
    tile = p['tile']
    img = np.array(
        Image.open(store.file('deepforest', f'{DF}{stem}.png')).convert('RGB'))
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
            save_png(crop, osp.join(out, 'images', name))
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


def build(store: PackageStore, out: str, p: dict) -> dict:
    """deepforest's aerial tree boxes, tiled, as COCO json + PNG tiles.

    Train / val / test: the top 70% / next 15% / last 15% of the large
    2299x2472 crop (:data:`TREE_SPLITS`; no pixel is shared between
    splits).
    """
    os.makedirs(osp.join(out, 'images'))
    summary = {}
    for split, regions in TREE_SPLITS.items():
        coco = dict(
            images=[],
            annotations=[],
            categories=[dict(id=1, name=TREE_CLASSES[0])])
        for stem, top, bottom in regions:
            _tile_region(store, out, coco, stem, top, bottom, p)
        os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
        with open(osp.join(out, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(coco, f)
        summary[split] = dict(
            images=len(coco['images']), boxes=len(coco['annotations']))
        print(f'  det/trees/{split}: {len(coco["images"])} tiles, '
              f'{len(coco["annotations"])} boxes')
    summary.update(
        source='deepforest 2.1.0 sample data (NEON aerial RGB, 10 cm)',
        image=f'{p["tile"]}x{p["tile"]} RGB PNG tiles',
        classes=list(TREE_CLASSES))
    return summary
