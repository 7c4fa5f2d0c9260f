"""kdep_mm's own files (basis, exported student) carry a checksum of their
tensors, verified at every load: bytes changed inside a file that still
reads (64 zeroed bytes) are refused by name, not loaded silently."""
import pytest
import torch

from kdep_mm.basis.io import load_basis, save_basis
from kdep_mm.utils.checkpoint import (CHECKSUM_KEY, DamagedFileError,
                                      load_weights)
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
