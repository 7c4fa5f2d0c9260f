"""StrictPretrained in the real downstream configs: a broken student
file fails loudly and names the key; a full KDEP checkpoint loads too;
``strict=False`` is the opt-out."""

import pytest
import torch
from mmengine.config import Config

from kdep_mm.utils.checkpoint import CheckpointMismatchError
from kdep_mm.utils.strict_pretrained import StrictPretrainedInit
from tests.helpers.config_keys import build_initialised, student_keys
from tests.helpers.datagen import make_kdep_checkpoint
from tests.helpers.tiny import config_path


def _build(rel: str, checkpoint: str):
    """The config's model with ``checkpoint`` as its student (every key
    that names the student file), initialised."""
    cfg = Config.fromfile(config_path(rel))
    cfg.merge_from_dict({key: checkpoint for key in student_keys(cfg)})
    return build_initialised(cfg, cfg.default_scope)


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
    path = str(tmp_path / 'broken.pth')
    make_kdep_checkpoint(path, 'resnet18', drop_keys=['layer1.0.bn1.weight'])
    StrictPretrainedInit(path, strict=False)(model.backbone)
    with pytest.raises(CheckpointMismatchError):
        StrictPretrainedInit(path)(model.backbone)
