"""KDEP students in mmdet: the real configs, one iteration, one eval."""
import pytest

from tests.helpers.downstream_data import make_coco, make_voc_det
from ._common import assert_backbone_equal, load_config, train_and_eval

BB = {'': 'backbone.'}
C4 = {'': 'backbone.', 'layer4.': 'roi_head.shared_head.layer4.'}

CASES = [
    # two-stage: the paper's C4 head (ResNet-18) and FPN (MobileNetV2)
    ('faster-rcnn_kdep-r18-c4_ms-18k_voc0712.py', 'resnet18', 'voc', C4,
     'pascal_voc/mAP'),
    ('faster-rcnn_kdep-mv2_fpn_1x_voc0712.py', 'mobilenetv2', 'voc', BB,
     'pascal_voc/mAP'),
    # one-stage
    ('retinanet_kdep-r18_fpn_1x_coco.py', 'resnet18', 'coco', BB,
     'coco/bbox_mAP'),
    ('retinanet_kdep-mv2_fpn_1x_coco.py', 'mobilenetv2', 'coco', BB,
     'coco/bbox_mAP'),
    # instance segmentation
    ('mask-rcnn_kdep-r18_fpn_1x_coco.py', 'resnet18', 'coco', BB,
     'coco/segm_mAP'),
    ('mask-rcnn_kdep-mv2_fpn_1x_coco.py', 'mobilenetv2', 'coco', BB,
     'coco/segm_mAP'),
]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('det')
    return dict(
        coco=('data/coco/', make_coco(str(root / 'coco')) + '/'),
        voc=('data/VOCdevkit/', make_voc_det(str(root / 'voc')) + '/'))


@pytest.mark.parametrize('config,student,ds,where,metric', CASES)
def test_mmdet_config(config, student, ds, where, metric, data, exported,
                      tmp_path):
    path = exported(student)
    old, new = data[ds]
    cfg = load_config(f'mmdet/{config}', path, old, new, 64, str(tmp_path))
    state, metrics = train_and_eval(cfg)
    assert_backbone_equal(state, path, where)
    assert metric in metrics, metrics
