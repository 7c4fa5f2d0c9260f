"""Demo datasets: the readers and writers produce exact labels and splits,
a part is prepared once (rebuilt when its parameters change, nothing left
by a failed one), and the prepared sets load in mmpretrain / mmdet /
mmseg."""
import gzip
import json
import os
import os.path as osp
import struct

import numpy as np
import pytest

from demo import assets as A
from demo.datasets import common, elpv
from demo.datasets import glyphs as seg_glyphs
from demo.datasets import parts, trees

#: Where ``python -m demo.prepare_assets`` puts the demo data.
DEMO_ROOT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data',
    'demo')


def test_read_idx(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack('>HBB3I', 0, 8, 3, 2, 3, 4) + arr.tobytes()
    path = str(tmp_path / 'x-idx3-ubyte.gz')
    with gzip.open(path, 'wb') as f:
        f.write(raw)
    np.testing.assert_array_equal(common.read_idx(path), arr)


def test_tiling_and_box_clipping():
    assert trees.tile_origins(1035, 256) == [0, 256, 512, 768, 779]
    assert trees.tile_origins(256, 256) == [0]
    assert trees.tile_origins(100, 256) == [0]
    boxes = np.array(
        [[10, 10, 50, 50], [240, 10, 280, 50], [250, 10, 290, 50]], np.float32)
    kept = trees.clip_boxes(boxes, 0, 0, 256, 0.5)
    # the second box is 16/40 inside: dropped; the third 6/40: dropped
    np.testing.assert_array_equal(kept, boxes[:1])
    kept = trees.clip_boxes(boxes, 0, 0, 256, 0.3)
    np.testing.assert_array_equal(kept[1], [240, 10, 256, 50])
    moved = trees.clip_boxes(boxes, 200, 0, 256, 0.5)
    np.testing.assert_array_equal(moved, [[40, 10, 80, 50], [50, 10, 90, 50]])


def test_voc_reader(tmp_path):
    xml = ('<annotation><object><name>Tree</name><bndbox><xmin>1</xmin>'
           '<ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>'
           '</annotation>')
    path = tmp_path / 'a.xml'
    path.write_text(xml)
    np.testing.assert_array_equal(
        trees.read_voc_boxes(str(path)), [[1, 2, 30, 40]])


def test_stratified_split():
    labels = [0] * 50 + [1] * 10
    tr, va, te = common.stratified_split(labels, (0.6, 0.2, 0.2), seed=0)
    assert sorted(tr + va + te) == list(range(60))
    assert [sum(labels[i] for i in s) for s in (tr, va, te)] == [6, 2, 2]
    assert common.stratified_split(labels, (0.6, 0.2, 0.2), 0)[0] == tr


@pytest.mark.parametrize('grey,thicken', [(0, 0), (100, 0), (200, 2),
                                          (255, 2)])
def test_glyph_labels_are_exact(grey, thicken):
    rng = np.random.RandomState(grey)
    bg = np.full((96, 96, 3), grey, np.uint8)
    glyphs = np.zeros((3, 28, 28), np.uint8)
    glyphs[:, 4:24, 10:18] = 255  # a bar
    glyphs[1, 4:10, 4:24] = 200  # plus a top stroke
    img, label = seg_glyphs.composite_glyphs(bg, glyphs, [3, 7, 10], rng, 28,
                                             40, thicken)
    if thicken:  # wider strokes: more pixels than the same glyphs unwidened
        _, thin = seg_glyphs.composite_glyphs(bg, glyphs, [3, 7, 10],
                                              np.random.RandomState(grey), 28,
                                              40)
        assert (label > 0).sum() > (thin > 0).sum()
    painted = (img != bg).any(-1)
    np.testing.assert_array_equal(painted, label > 0)
    assert set(np.unique(label)) <= {0, 3, 7, 10}
    assert (label > 0).sum() > 0
    for c in np.unique(label[label > 0]):  # one solid colour per glyph
        assert len(np.unique(img[label == c], axis=0)) == 1


def test_prepare_markers_skip_and_rebuild(tmp_path, monkeypatch):
    calls = []

    def fake_part(store, out, p):
        calls.append(p['n'])
        with open(osp.join(out, 'x.txt'), 'w') as f:
            f.write('x' * p['n'])
        return dict(n=p['n'])

    monkeypatch.setitem(parts.PART_FUNCS, 'pool', fake_part)
    monkeypatch.setitem(parts.DEFAULTS, 'pool', dict(n=3))
    store = A.PackageStore(
        cache_dir=str(tmp_path),
        manifest={'dataset-fashion-mnist': dict(source='debian')},
        offline=True)
    root = str(tmp_path / 'demo')
    res = parts.prepare(root, parts=['pool'], store=store)
    assert res['pool']['files'] == 1 and res['pool']['bytes'] == 3
    parts.prepare(root, parts=['pool'], store=store)  # finished: skipped
    assert calls == [3]
    parts.prepare(
        root, parts=['pool'], store=store, params=dict(pool=dict(n=5)))
    assert calls == [3, 5]  # other parameters: rebuilt
    with open(osp.join(root, 'index.json')) as f:
        assert json.load(f)['pool']['summary'] == dict(n=5)
    with pytest.raises(A.AssetError, match='unknown parts'):
        parts.prepare(root, parts=['nope'], store=store)


def test_prepared_data_loads_in_the_libraries():
    """The real prepared sets load with mmpretrain / mmdet / mmseg."""
    root = DEMO_ROOT
    done = osp.join(root, '.done')
    need = ('cls_elpv', 'pool', 'det_trees', 'seg_glyphs')
    if not all(osp.isfile(osp.join(done, f'{p}.json')) for p in need):
        pytest.skip('demo data not prepared (run python -m '
                    'demo.prepare_assets first)')
    from mmengine.registry import DefaultScope
    from mmpretrain.datasets import CustomDataset
    ds = CustomDataset(
        data_root=osp.join(root, 'cls/elpv'),
        ann_file='meta/test.txt',
        data_prefix='images',
        classes=osp.join(root, 'cls/elpv/meta/classes.txt'),
        pipeline=[dict(type='LoadImageFromFile')])
    assert len(ds) > 100 and ds.CLASSES == elpv.ELPV_CLASSES
    assert ds[0]['img'].shape == (128, 128, 3)
    pool = CustomDataset(
        data_root=osp.join(root, 'pool'),
        data_prefix='train',
        with_label=False)
    assert len(pool) == parts.DEFAULTS['pool']['train']
    # the study's 10% pool: a tenth of train, every class about equally
    with open(osp.join(root, 'pool/meta/train_subset_labeled.txt')) as f:
        subset = [line.split() for line in f if line.strip()]
    assert abs(len(subset) - 0.1 * len(pool)) <= 10
    counts = np.bincount([int(c) for _, c in subset], minlength=10)
    assert counts.min() >= 0.09 * len(pool) / 10
    # detection / segmentation: three splits, no image shared
    names = {}
    for split in ('train', 'val', 'test'):
        with open(osp.join(root, f'det/trees/annotations/{split}.json')) as f:
            names[split] = {i['file_name'] for i in json.load(f)['images']}
        assert names[split], split
    assert not (names['train'] & names['val']) and not (
        names['train'] & names['test']) and not (names['val'] & names['test'])
    for split in ('train', 'val', 'test'):
        assert len(os.listdir(osp.join(root, 'seg/glyphs/ann_dir', split)))
    from mmdet.datasets import CocoDataset
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = CocoDataset(
            data_root=osp.join(root, 'det/trees'),
            ann_file='annotations/val.json',
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=trees.TREE_CLASSES),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True)
            ])
        assert len(det) > 10 and len(det[0]['gt_bboxes']) > 0
    from mmseg.datasets import BaseSegDataset
    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = BaseSegDataset(
            data_root=osp.join(root, 'seg/glyphs'),
            data_prefix=dict(
                img_path='img_dir/val', seg_map_path='ann_dir/val'),
            img_suffix='.png',
            seg_map_suffix='.png',
            metainfo=dict(classes=seg_glyphs.GLYPH_CLASSES),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations')
            ])
        sample = seg[0]
    assert sample['gt_seg_map'].max() <= 10
    assert sample['gt_seg_map'].shape == sample['img'].shape[:2]


def test_prepare_failed_part_leaves_nothing(tmp_path, monkeypatch):

    def broken_part(store, out, p):
        with open(osp.join(out, 'half.txt'), 'w') as f:
            f.write('half')
        raise A.AssetHashError('x.whl', '0' * 64, '1' * 64, 'archive')

    monkeypatch.setitem(parts.PART_FUNCS, 'pool', broken_part)
    store = A.PackageStore(
        cache_dir=str(tmp_path),
        manifest={'dataset-fashion-mnist': dict(source='debian')},
        offline=True)
    root = str(tmp_path / 'demo')
    with pytest.raises(A.AssetHashError, match='refusing archive x.whl'):
        parts.prepare(root, parts=['pool'], store=store)
    assert not osp.exists(osp.join(root, 'pool'))
    assert not osp.exists(osp.join(root, '.done', 'pool.json'))


def test_prepared_lite2_teacher_is_checked():
    """The converted EfficientNet-Lite2 equals its source package's model
    exactly and recognises the real photos (when the set-up prepared it)."""
    root = DEMO_ROOT
    check = osp.join(root, 'teacher_lite2', 'teacher_check.json')
    if not osp.isfile(osp.join(root, '.done', 'teacher_lite2.json')):
        pytest.skip('demo data not prepared (run python -m '
                    'demo.prepare_assets first)')
    with open(check) as f:
        data = json.load(f)
    assert data['meta']['max_abs_logit_diff_vs_source'] <= 1e-4
    assert data['meta']['num_tensors'] == 386
    assert all(c['ok'] for c in data['checks'])
    assert data['checks'][0]['top5'][0][1] == 'Egyptian cat'
