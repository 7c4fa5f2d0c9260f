"""Third-party weights load with ``weights_only``; a file carrying pickled
code is refused, never executed."""
import os
import pickle
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

from kdep_mm.utils.checkpoint import DamagedFileError, load_weights


class _Payload:
    """Creates a marker file when unpickled (stands for arbitrary code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def malicious_teacher(tmp_path):
    net = MODELS.build(dict(type='ResNet', depth=18))
    marker = str(tmp_path / 'PWNED')
    state = OrderedDict(net.state_dict())
    state['payload'] = _Payload(marker)
    path = str(tmp_path / 'evil_teacher.pth')
    torch.save(state, path)
    assert not os.path.exists(marker)
    return path, marker


def test_third_party_weights_load_weights_only(tiny_setup, tmp_path):
    # A plain state dict, as torchvision / timm / model zoos publish them,
    # and the same wrapped the OpenMMLab way.
    plain = torch.load(tiny_setup['teacher'], weights_only=True)
    wrapped = str(tmp_path / 'wrapped.pth')
    torch.save(dict(meta=dict(epoch=3, note='zoo'), state_dict=plain), wrapped)
    for path in (tiny_setup['teacher'], wrapped):
        obj = load_weights(path)
        state = obj.get('state_dict', obj)
        assert set(state) == set(plain)
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=dict(type='ResNet', depth=18),
            teacher=dict(
                model=dict(type='ResNet', depth=18), checkpoint=wrapped),
            probe_size=32))
    assert torch.equal(model.teacher.conv1.weight, plain['conv1.weight'])


def test_pickled_code_is_refused_not_executed(tmp_path):
    path, marker = malicious_teacher(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match='refusing to load'):
        load_weights(path)
    assert not os.path.exists(marker)

    # Through the distiller's teacher loading.
    with pytest.raises(pickle.UnpicklingError, match='evil_teacher.pth'):
        MODELS.build(
            dict(
                type='KDEP',
                backbone=dict(type='ResNet', depth=18),
                teacher=dict(
                    model=dict(type='ResNet', depth=18), checkpoint=path),
                probe_size=32))
    assert not os.path.exists(marker)

    # mmengine's own loader (init_cfg=Pretrained, load_from, --resume) goes
    # through torch.load, weights-only by default.
    net = MODELS.build(dict(type='ResNet', depth=18))
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(net, path, map_location='cpu')
    assert not os.path.exists(marker)


def test_damaged_weights_files_are_named(tmp_path):
    """Empty, truncated and non-torch files: DamagedFileError naming the
    file and its state, never a bare EOFError or zip-reader error."""
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.zeros(1000)}, good)
    data = good.read_bytes()
    cases = {
        'empty.pth': (b'', 'is empty'),
        'half.pth': (data[:len(data) // 2], 'damaged or truncated'),
        'text.pth': (b'not a torch file\n' * 4, 'damaged or truncated'),
    }
    for name, (content, says) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DamagedFileError) as info:
            load_weights(str(path))
        assert str(path) in str(info.value) and says in str(info.value)
