"""Export of KDEP students and loud (strict) loading downstream."""
import hashlib
import importlib
import os.path as osp
import subprocess
import sys

import pytest
import torch
from _common import REPO, config_path
from mmengine.config import Config
from mmengine.registry import DefaultScope

from kdep_mm.testing import make_kdep_checkpoint
from kdep_mm.utils.checkpoint import CheckpointMismatchError
from kdep_mm.utils.config_vars import propagate_variables
from kdep_mm.utils.export import NotAKDEPCheckpointError, export_student


@pytest.mark.parametrize('student', ['resnet18', 'mobilenetv2'])
def test_export_roundtrip(student, kdep_ckpt, tmp_path):
    path = export_student(kdep_ckpt(student), str(tmp_path))
    name = osp.basename(path)
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()[:8]
    assert name.endswith(f'-{digest}.pth')
    obj = torch.load(path, weights_only=True)
    assert set(obj) == {'meta', 'state_dict'}
    assert not any(
        k.startswith(('backbone.', 'align.', 'data_preprocessor'))
        for k in obj['state_dict'])
    full = torch.load(kdep_ckpt(student), weights_only=True)['state_dict']
    for k, v in obj['state_dict'].items():
        assert torch.equal(v, full['backbone.' + k])
    kdep = obj['meta']['kdep']
    assert kdep['teacher']['fingerprint'] == '0123456789abcdef'
    assert kdep['student']['type'] in ('ResNet', 'MobileNetV2')
    assert obj['meta']['export']['num_tensors'] == len(obj['state_dict'])
    # same content, same name: deterministic apart from the time stamp
    again = export_student(kdep_ckpt(student), str(tmp_path), name='x')
    assert osp.basename(again).startswith('x-')


def test_export_refuses(tmp_path, kdep_ckpt):
    plain = str(tmp_path / 'plain.pth')
    torch.save({'state_dict': {'backbone.w': torch.zeros(1)}}, plain)
    with pytest.raises(NotAKDEPCheckpointError):
        export_student(plain, str(tmp_path))
    broken = str(tmp_path / 'broken.pth')
    key = 'layer3.0.conv1.weight'
    make_kdep_checkpoint(broken, 'resnet18', drop_keys=[key])
    with pytest.raises(CheckpointMismatchError, match=key):
        export_student(broken, str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out')  # nothing written
    exported = export_student(kdep_ckpt('resnet18'), str(tmp_path))
    with pytest.raises(NotAKDEPCheckpointError, match='already'):
        export_student(exported, str(tmp_path))


def test_extract_student_cli(kdep_ckpt, tmp_path, capsys):
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'extract_student.py'),
        kdep_ckpt('resnet18'), '--out-dir',
        str(tmp_path), '--name', 'r18'
    ],
                         capture_output=True,
                         text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert osp.basename(out.stdout.strip()).startswith('r18-')
    # refusals: exit status 1 and the reason (in-process, faster)
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        from extract_student import main
    finally:
        sys.path.pop(0)
    assert main([out.stdout.strip()]) == 1
    assert 'already' in capsys.readouterr().err


def _build(rel: str, checkpoint: str):
    cfg = Config.fromfile(config_path(rel))
    propagate_variables(cfg, {'checkpoint': checkpoint})
    scope = cfg.default_scope
    importlib.import_module(f'{scope}.models')
    reg = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = reg.build(cfg.model)
        model.init_weights()
    return model


BROKEN = [
    ('mmdet/faster-rcnn_kdep-r18-c4_1x_coco.py', 'resnet18',
     'layer4.1.conv2.weight'),
    ('mmseg/pspnet_kdep-mv2_4xb4-40k_voc12aug-512x512.py', 'mobilenetv2',
     'conv2.conv.weight'),
    ('mmpretrain/kdep-r18_1xb64-150e_cub-224px.py', 'resnet18',
     'layer1.0.bn1.weight'),
]


@pytest.mark.parametrize('config,student,key', BROKEN)
@pytest.mark.parametrize('fault', ['missing', 'shape'])
def test_broken_checkpoint_fails_loudly(config, student, key, fault, tmp_path):
    path = str(tmp_path / 'broken.pth')
    make_kdep_checkpoint(
        path,
        student,
        drop_keys=[key] if fault == 'missing' else [],
        reshape_keys=[key] if fault == 'shape' else [])
    with pytest.raises(CheckpointMismatchError) as err:
        _build(config, path)
    msg = str(err.value)
    assert key in msg
    assert ('missing keys' if fault == 'missing' else 'shape') in msg


def test_full_checkpoint_and_opt_out(kdep_ckpt, tmp_path):
    # a full pre-training checkpoint loads as well (prefix backbone.)
    model = _build('mmpretrain/kdep-r18_1xb64-150e_cub-224px.py',
                   kdep_ckpt('resnet18'))
    full = torch.load(kdep_ckpt('resnet18'), weights_only=True)['state_dict']
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, full['backbone.' + k]), k
    # strict=False: the opt-out, loads what matches
    from kdep_mm.utils.strict_pretrained import StrictPretrainedInit
    path = str(tmp_path / 'broken.pth')
    make_kdep_checkpoint(path, 'resnet18', drop_keys=['layer1.0.bn1.weight'])
    StrictPretrainedInit(path, strict=False)(model.backbone)
    with pytest.raises(CheckpointMismatchError):
        StrictPretrainedInit(path)(model.backbone)


def test_path_variable_moves_the_paths_under_it():
    cfg = Config(
        dict(
            data_root='data/demo',
            checkpoint='data/demo/teachers/t.pth',
            loader=dict(root='data/demo/pool', other='data/demo2/x'),
            model=dict(init=dict(checkpoint='data/demo/teachers/t.pth'))))
    propagate_variables(cfg, {'data_root': '/abs/root/'})
    assert cfg.loader.root == '/abs/root/pool'
    assert cfg.loader.other == 'data/demo2/x'  # a sibling, not under it
    assert cfg.checkpoint == '/abs/root/teachers/t.pth'
    assert cfg.model.init.checkpoint == '/abs/root/teachers/t.pth'
