"""KDEP students in mmpretrain: the real configs, one iteration, one
eval."""
import pytest

from tests.helpers.downstream_data import make_caltech256, make_cub
from ._common import assert_backbone_equal, load_config, train_and_eval

CASES = [
    ('kdep-r18_1xb64-150e_caltech256-224px.py', 'resnet18', 'caltech'),
    ('kdep-mv2_1xb64-150e_cub-224px.py', 'mobilenetv2', 'cub'),
]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('cls')
    return dict(
        caltech=('data/caltech256', make_caltech256(str(root / 'c256'))),
        cub=('data/CUB_200_2011', make_cub(str(root / 'cub'))))


@pytest.mark.parametrize('config,student,ds', CASES)
def test_mmpretrain_config(config, student, ds, data, exported, tmp_path):
    path = exported(student)
    old, new = data[ds]
    cfg = load_config(f'mmpretrain/{config}', path, old, new, 32,
                      str(tmp_path))
    state, metrics = train_and_eval(cfg)
    assert_backbone_equal(state, path, {'': 'backbone.'})
    assert 'accuracy/top1' in metrics, metrics
