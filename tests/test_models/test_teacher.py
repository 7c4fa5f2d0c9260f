"""The frozen teacher: loaded strictly from its own file, described once
(``KDEP.teacher_meta``), its tap set next to the student's."""
import pytest
import torch
from mmpretrain.registry import MODELS

from kdep_mm.models import build_teacher, weights_fingerprint
from kdep_mm.utils.checkpoint import (CheckpointMismatchError,
                                      load_state_dict_strict)
from tests.helpers.datagen import save_backbone
from tests.helpers.tiny import build_kdep


def resnet_teacher(checkpoint, depth=18):
    return dict(model=dict(type='ResNet', depth=depth), checkpoint=checkpoint)


def test_teacher_checkpoint_strict(tmp_path, r34_teacher):
    with pytest.raises(FileNotFoundError, match='not found'):
        build_kdep(dict(r34_teacher, checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(CheckpointMismatchError) as err:
        build_kdep(dict(r34_teacher, model=dict(type='ResNet', depth=18)))
    assert 'unexpected keys' in str(err.value)
    assert 'layer1.2.conv1.weight' in str(err.value)  # R34 has 3 blocks
    with pytest.raises(ValueError, match='checkpoint is required'):
        build_kdep(dict(model=dict(type='ResNet', depth=18), checkpoint=None))


def test_missing_teacher_checkpoint(tmp_path):
    missing = str(tmp_path / 'no_such_teacher.pth')
    with pytest.raises(FileNotFoundError, match='no_such_teacher.pth'):
        build_kdep(resnet_teacher(missing))


def test_teacher_checkpoint_of_another_architecture(tmp_path):
    r34 = save_backbone(
        dict(type='ResNet', depth=34), str(tmp_path / 'r34.pth'))
    with pytest.raises(CheckpointMismatchError) as err:
        build_kdep(resnet_teacher(r34))  # the config says ResNet-18
    msg = str(err.value)
    assert 'r34.pth' in msg and 'nothing was loaded' in msg
    assert 'unexpected keys' in msg and 'layer1.2.conv1.weight' in msg

    # ResNet-50 weights: missing, unexpected and shape-mismatched keys.
    r50 = save_backbone(
        dict(type='ResNet', depth=50), str(tmp_path / 'r50.pth'))
    with pytest.raises(CheckpointMismatchError) as err:
        build_kdep(resnet_teacher(r50))
    msg = str(err.value)
    assert 'shape mismatches' in msg and 'layer1.0.conv1.weight' in msg
    assert 'unexpected keys' in msg and 'conv3.weight' in msg

    # Nothing is loaded: the module keeps its weights.
    net = MODELS.build(dict(type='ResNet', depth=18))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.load(r34, weights_only=True)
    with pytest.raises(CheckpointMismatchError):
        load_state_dict_strict(net, state, source=r34)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_teacher_tap_in_the_teacher_dict_is_refused(r34_teacher):
    """The teacher tap moved next to the student tap: the old place is an
    error that says where it went, not silently ignored."""
    with pytest.raises(
            ValueError,
            match=r'move teacher=dict\(tap=\.\.\.\) '
            r'to KDEP\(teacher_tap=\.\.\.\)'):
        build_kdep(dict(r34_teacher, tap=dict(module='layer4', hook='output')))
    with pytest.raises(ValueError, match='teacher_tap'):
        build_teacher(dict(r34_teacher, tap='layer4'))
    with pytest.raises(ValueError, match="got keys.*'typo'"):
        build_teacher(dict(r34_teacher, typo=1))


def test_teacher_meta(r34_teacher, backbone_file):
    """The one description of the teacher: config, file, prefix, weights
    fingerprint (changes with the weights only), tap and width."""
    net, info = build_teacher(r34_teacher)
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())
    assert info == dict(
        model=r34_teacher['model'],
        checkpoint=r34_teacher['checkpoint'],
        prefix=None,
        fingerprint=weights_fingerprint(net))
    model = build_kdep(r34_teacher, teacher_tap='layer4')
    assert model.teacher_meta == dict(
        info, tap='layer4:output[call=-1]:pool=avg', width=512)
    # same weights, same fingerprint; other weights, another one
    again, _ = build_teacher(dict(r34_teacher))
    assert weights_fingerprint(again) == info['fingerprint']
    other = dict(
        r34_teacher, checkpoint=backbone_file(r34_teacher['model'], seed=1))
    assert build_teacher(other)[1]['fingerprint'] != info['fingerprint']
