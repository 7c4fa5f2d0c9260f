"""The spatial readout (``demo.study.spatial``): majority labels per cell,
the class-balanced draw, mIoU, and a whole probe on generated glyph data in
mmseg's on-disk layout."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch

from demo.study import spatial


def test_cell_labels_take_the_majority_class():
    masks = np.zeros((1, 16, 16), np.uint8)
    masks[0, :8, :8] = 3  # a whole cell
    masks[0, 8:, 8:11] = 5  # 24 of 64 pixels: background wins
    masks[0, :8, 8:] = 255  # ignore label: clamped to the last class
    got = spatial.cell_labels(masks)
    assert got.tolist() == [[[3, 10], [0, 0]]]


def test_balanced_rows_and_weights():
    labels = torch.tensor([0] * 90 + [1] * 6 + [2] * 4)
    keep = spatial.balanced_rows(labels)
    picked = labels[keep]
    assert (picked > 0).sum() == 10 and (picked == 0).sum() == 10
    assert torch.equal(keep, spatial.balanced_rows(labels))  # a fixed draw
    w = spatial.balanced_weights(picked)
    # inverse frequency: class 2 (4 rows) weighs 1.5x class 1 (6 rows)
    assert w[2] / w[1] == pytest.approx(1.5) and w[3:].sum() == 0
    assert w[:3].mean() == pytest.approx(1.0)


def test_miou_by_hand():
    label = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0])
    # IoU: class 0 1/3, class 1 2/3, class 2 0/1
    assert spatial.miou(pred, label) == pytest.approx(100 / 3)


def _glyph_split(root, split, n, seed):
    rng = np.random.default_rng(seed)
    for d in ('img_dir', 'ann_dir'):
        os.makedirs(osp.join(root, d, split))
    for i in range(n):
        img = rng.integers(0, 80, (64, 64, 3), dtype=np.uint8)
        mask = np.zeros((64, 64), np.uint8)
        c = int(rng.integers(1, 11))
        y, x = rng.integers(0, 40, 2)
        img[y:y + 24, x:x + 24] = 25 * c  # brightness says the class
        mask[y:y + 24, x:x + 24] = c
        mmcv.imwrite(img, osp.join(root, 'img_dir', split, f'{i}.png'))
        mmcv.imwrite(mask, osp.join(root, 'ann_dir', split, f'{i}.png'))


def test_a_spatial_probe_on_generated_glyphs(tmp_path):
    root = str(tmp_path / 'glyphs')
    for k, split in enumerate(('train', 'val', 'test')):
        _glyph_split(root, split, 8, k)
    net = spatial.student_network(None, False, 0)
    res = spatial.spatial_probe(net, l2_grid=(1e-3, 1e-1), data_root=root)
    assert set(res['grid']) == {'l20.001', 'l20.1'}
    # ResNet-18's maps at strides 8, 16, 32: 128 + 256 + 512 per cell
    assert res['dims'] == 896
    assert res['edge'] in ('low', 'high')  # two values: always an edge
    assert 0 <= res['test'] <= 100 and res['val'] == max(
        r['val'] for r in res['grid'].values())
    # the background cell majority: far above chance on this easy data
    assert res['test'] > 100 / 11
