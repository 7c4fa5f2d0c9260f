"""KDEP students in mmseg: the real configs, one iteration, one eval."""
import pytest

from tests.helpers.downstream_data import (make_ade20k, make_cityscapes,
                                           make_voc_seg)
from ._common import assert_backbone_equal, load_config, train_and_eval

CASES = [
    ('pspnet_kdep-r18-d8_4xb2-80k_cityscapes-512x1024.py', 'resnet18',
     'cityscapes'),
    ('pspnet_kdep-mv2_4xb4-160k_ade20k-512x512.py', 'mobilenetv2', 'ade'),
    ('deeplabv3_kdep-r18-d8_4xb4-160k_ade20k-512x512.py', 'resnet18', 'ade'),
    ('deeplabv3_kdep-mv2_4xb4-40k_voc12aug-512x512.py', 'mobilenetv2', 'voc'),
]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('seg')
    return dict(
        cityscapes=('data/cityscapes/',
                    make_cityscapes(str(root / 'cityscapes')) + '/'),
        ade=('data/ade/ADEChallengeData2016', make_ade20k(str(root / 'ade'))),
        voc=('data/VOCdevkit/VOC2012', make_voc_seg(str(root / 'voc'))))


@pytest.mark.parametrize('config,student,ds', CASES)
def test_mmseg_config(config, student, ds, data, exported, tmp_path):
    path = exported(student)
    old, new = data[ds]
    cfg = load_config(f'mmseg/{config}', path, old, new, 64, str(tmp_path))
    state, metrics = train_and_eval(cfg)
    assert_backbone_equal(state, path, {'': 'backbone.'})
    assert 'mIoU' in metrics, metrics
