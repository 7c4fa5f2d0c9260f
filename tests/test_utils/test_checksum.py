"""kdep_mm's own files (basis, exported student, training checkpoints)
carry a checksum of their tensors, verified at every load: bytes changed
inside a file that still reads (64 zeroed bytes) are refused by name, not
loaded silently."""
import pytest
import torch
from mmengine.config import Config

from kdep_mm.basis.io import load_basis, save_basis
from kdep_mm.utils.checkpoint import (CHECKPOINT_CHECKSUM_KEY, CHECKSUM_KEY,
                                      DamagedFileError,
                                      add_checkpoint_checksum, has_checksum,
                                      load_weights)
from kdep_mm.utils.cli import check_start_checkpoint
from kdep_mm.utils.export import export_student
from tests.helpers.datagen import make_kdep_checkpoint, zero_tensor_bytes


def _basis(path):
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(64, generator=gen)
    basis = torch.linalg.qr(torch.randn(64, 64, generator=gen))[0]
    spectrum = torch.linspace(10, 1, 64)
    return save_basis(path, mean, basis, spectrum, dict(num_images=10))


def test_basis_file_with_zeroed_bytes_is_refused_by_name(tmp_path):
    path = _basis(str(tmp_path / 'kdep_basis.pth'))
    assert load_weights(path)['meta'][CHECKSUM_KEY]
    load_basis(path)  # intact: loads
    zero_tensor_bytes(path)
    with pytest.raises(DamagedFileError) as err:
        load_basis(path)
    msg = str(err.value)
    assert path in msg and 'do not match the checksum' in msg
    assert 'Write it again' in msg


def test_exported_student_with_zeroed_bytes_is_refused_by_name(tmp_path):
    ckpt = str(tmp_path / 'epoch_1.pth')
    make_kdep_checkpoint(ckpt)
    path = export_student(ckpt, str(tmp_path))
    assert len(load_weights(path)['state_dict']) > 100
    zero_tensor_bytes(path)
    with pytest.raises(DamagedFileError) as err:
        load_weights(path)
    assert path in str(err.value)


def test_files_without_a_checksum_still_load(tmp_path):
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(3))), path)
    assert torch.equal(load_weights(path)['state_dict']['w'], torch.ones(3))


def test_training_checkpoints_are_checked_per_entry(tmp_path):
    """What KDEPCheckpointHook records: one digest per entry; a changed
    entry is named, one removed on purpose (a published checkpoint) is
    not an error."""
    ckpt = dict(
        meta=dict(epoch=2),
        state_dict=dict(w=torch.arange(8.)),
        optimizer=dict(
            state={0: dict(momentum_buffer=torch.ones(8))},
            param_groups=[dict(lr=0.1, params=[0])]))
    add_checkpoint_checksum(ckpt)
    assert set(
        ckpt['meta'][CHECKPOINT_CHECKSUM_KEY]) == {'state_dict', 'optimizer'}
    path = str(tmp_path / 'epoch_2.pth')
    torch.save(ckpt, path)
    assert has_checksum(load_weights(path))
    torch.save({k: v for k, v in ckpt.items() if k != 'optimizer'}, path)
    load_weights(path)
    ckpt['optimizer']['state'][0]['momentum_buffer'][3] = 0.
    torch.save(ckpt, path)
    torch.save(ckpt, str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(DamagedFileError) as err:
        load_weights(path)
    msg = str(err.value)
    assert f"cannot use {path}: the tensors of its 'optimizer'" in msg
    assert 'Use an earlier checkpoint of the same run instead (--resume ' \
        f"{tmp_path / 'epoch_1.pth'}" in msg


def test_a_checkpoint_without_a_checksum_loads_and_says_so(
        tmp_path, kdep_ckpt):
    """Checkpoints saved before the checksum (or by another tool): loaded,
    with a warning that their tensors are not verified."""
    path = kdep_ckpt('resnet18')
    cfg = Config(dict(resume=True, load_from=path, work_dir=str(tmp_path)))
    with pytest.warns(UserWarning, match=f'{path} carries no checksum'):
        check_start_checkpoint(cfg)
    with pytest.warns(UserWarning, match='exported unverified'):
        export_student(path, str(tmp_path))
