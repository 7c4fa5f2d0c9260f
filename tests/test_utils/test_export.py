"""Export of KDEP students: the backbone-only file, named by its hash,
refused for what is not a (whole) KDEP checkpoint."""
import hashlib
import os.path as osp

import pytest
import torch

from kdep_mm.utils.checkpoint import CheckpointMismatchError
from kdep_mm.utils.export import NotAKDEPCheckpointError, export_student
from tests.helpers.datagen import make_kdep_checkpoint


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
