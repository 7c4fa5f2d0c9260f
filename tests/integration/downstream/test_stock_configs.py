"""Students drop into the libraries' STOCK configs, as a user would use them.

Each case reads a config shipped inside the installed mmseg / mmdet /
mmpretrain package (``_base_ = '<scope>::...'``), changes only where the
checkpoint comes from, builds the model, runs its initialisation, and checks
that every backbone tensor equals the exported student file's: nothing left
at random, nothing loaded partially. mmseg's r18 configs use its deep-stem
``ResNetV1c``, whose keys differ from mmpretrain's, so they take the
``mmseg.ResNetV1c`` student (``configs/kdep/kdep_r50-r18v1c_*``); mmdet's and
mmpretrain's take the plain ResNet-18 student.
"""
import torch
from mmengine.config import Config

from kdep_mm.utils.export import build_student, export_student
from kdep_mm.utils.misc import to_plain
from tests.helpers.config_keys import build_initialised

CASES = {
    'mmseg': ('mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
              dict(type='mmseg.ResNetV1c',
                   depth=18), "model = dict(pretrained=STUDENT)"),
    'mmdet': ('mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
              dict(type='ResNet',
                   depth=18), 'model = dict(backbone=dict(init_cfg=dict('
              'checkpoint=STUDENT)))'),
    'mmpretrain': ('mmpretrain::resnet/resnet18_8xb32_in1k.py',
                   dict(type='ResNet',
                        depth=18), "model = dict(backbone=dict(init_cfg=dict("
                   "type='Pretrained', checkpoint=STUDENT)))"),
}


def _student_file(student_cfg: dict, out_dir: str, seed: int) -> str:
    """An exported student with random (not default-init) weights."""
    torch.manual_seed(seed)
    net = build_student(student_cfg)
    state = {
        f'backbone.{k}':
        (torch.randn_like(v) * 0.05 if v.is_floating_point() else v)
        for k, v in net.state_dict().items()
    }
    meta = dict(
        kdep=dict(
            student=to_plain(student_cfg),
            teacher=dict(model=dict(type='ResNet', depth=50))))
    return export_student(dict(meta=meta, state_dict=state), out_dir)


def check_stock_config(tmp_path, scope: str) -> None:
    base, student_cfg, override = CASES[scope]
    student = _student_file(student_cfg, str(tmp_path), seed=3)
    cfg_file = tmp_path / f'stock_{scope}.py'
    cfg_file.write_text(f'_base_ = {base!r}\nSTUDENT = {student!r}\n'
                        f'{override}\n')
    model = build_initialised(Config.fromfile(str(cfg_file)), scope)
    expected = torch.load(student, weights_only=True)['state_dict']
    got = model.backbone.state_dict()
    assert set(got) == set(expected), (sorted(set(got) ^ set(expected))[:8])
    differ = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not differ, f'{len(differ)} backbone tensors differ: {differ[:8]}'


def test_mmseg_stock_r18_config_takes_the_v1c_student(tmp_path):
    check_stock_config(tmp_path, 'mmseg')


def test_mmdet_stock_r18_config_takes_the_plain_student(tmp_path):
    check_stock_config(tmp_path, 'mmdet')


def test_mmpretrain_stock_r18_config_takes_the_plain_student(tmp_path):
    check_stock_config(tmp_path, 'mmpretrain')


def test_the_check_refuses_a_student_of_the_wrong_stem(tmp_path, monkeypatch):
    """mmpretrain's plain ResNet-18 does not fit mmseg's ResNetV1c: the
    check above must say so (mmseg's own initialiser only warns)."""
    base, _, override = CASES['mmseg']
    monkeypatch.setitem(CASES, 'mmseg',
                        (base, dict(type='ResNet', depth=18), override))
    try:
        check_stock_config(tmp_path, 'mmseg')
    except AssertionError as e:
        assert 'stem' in str(e)
    else:
        raise AssertionError('a plain-stem student passed the V1c check')
