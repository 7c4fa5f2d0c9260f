"""Basis files are written atomically and refuse to be used with another
teacher, tap or width (the message names both sides)."""
import os
import subprocess
import sys

import pytest
import torch
from mmpretrain.registry import MODELS

import kdep_mm.utils.basis_file as basis_file
from kdep_mm.utils.basis_file import load_basis, save_basis
from .tiny import ROOT, make_teacher

META = dict(
    teacher_fingerprint='abc123',
    teacher_tap='layer4.1.relu:input[call=-1]:pool=avg',
    teacher_arch='ResNet-18',
    num_images=10)


def tensors(d_t=8):
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(d_t, d_t, generator=g))
    return (torch.randn(d_t, generator=g), basis, torch.linspace(4, 0.1, d_t))


def test_roundtrip_keeps_metadata(tmp_path):
    path = str(tmp_path / 'basis.pth')
    mean, basis, spectrum = tensors()
    save_basis(path, mean, basis, spectrum, META)
    obj = load_basis(path, expect=dict(META, d_t=8), k=8)
    assert torch.equal(obj['basis'], basis) and torch.equal(obj['mean'], mean)
    assert obj['meta']['teacher_fingerprint'] == 'abc123'
    assert obj['meta']['d_t'] == 8 and obj['meta']['k_max'] == 8
    assert os.listdir(tmp_path) == ['basis.pth']  # no temporary left


def test_crash_mid_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'basis.pth')
    old = str(tmp_path / 'old.pth')
    mean, basis, spectrum = tensors()
    save_basis(old, mean, basis, spectrum, META)
    old_bytes = open(old, 'rb').read()

    def half_then_crash(obj, f):
        f.write(b'\x80\x02partial')
        raise OSError('disk full')

    monkeypatch.setattr(basis_file.torch, 'save', half_then_crash)
    for dest in (path, old):
        with pytest.raises(OSError, match='disk full'):
            save_basis(dest, mean, basis, spectrum, META)
    assert not os.path.exists(path)
    assert open(old, 'rb').read() == old_bytes  # untouched
    assert sorted(os.listdir(tmp_path)) == ['old.pth']


def test_sigkill_mid_write_leaves_no_partial_file(tmp_path):
    """A hard kill while the bytes are being written: the destination
    never exists (only a ``*.tmp`` file may remain)."""
    path = str(tmp_path / 'basis.pth')
    code = f"""
import os, signal, torch
import kdep_mm.utils.basis_file as bf
def save(obj, f):
    f.write(b'partial'); f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
bf.torch.save = save
bf.save_basis({path!r}, torch.zeros(4), torch.eye(4), torch.ones(4), {{}})
"""
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == -9
    assert not os.path.exists(path)


@pytest.mark.parametrize('field,value', [
    ('teacher_fingerprint', 'ffff0000'),
    ('teacher_tap', 'layer3.1.relu:input[call=-1]:pool=avg'),
    ('d_t', 16),
])
def test_refuses_basis_of_another_teacher_tap_or_width(tmp_path, field, value):
    path = str(tmp_path / 'basis.pth')
    save_basis(path, *tensors(), META)
    expect = dict(META, d_t=8)
    expect[field] = value
    with pytest.raises(ValueError) as err:
        load_basis(path, expect=expect)
    msg = str(err.value)
    assert field in msg and path in msg
    assert repr(value) in msg  # this model's side
    assert repr(dict(META, d_t=8)[field]) in msg  # the file's side


def test_refuses_too_few_directions(tmp_path):
    path = str(tmp_path / 'basis.pth')
    mean, basis, spectrum = tensors()
    save_basis(path, mean, basis[:, :4], spectrum, META)
    with pytest.raises(ValueError, match='file has 4.*k = 8'):
        load_basis(path, k=8)


def test_distiller_refuses_basis_of_another_teacher(tiny_setup, tmp_path):

    def build(ckpt, basis=None):
        return MODELS.build(
            dict(
                type='KDEP',
                backbone=dict(type='ResNet', depth=18),
                teacher=dict(
                    model=dict(type='ResNet', depth=18), checkpoint=ckpt),
                basis_file=basis,
                probe_size=32))

    model = build(tiny_setup['teacher'])
    d_t = model.align.d_t
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(d_t, d_t, generator=g))
    path = str(tmp_path / 'basis.pth')
    save_basis(path, torch.zeros(d_t), basis, torch.linspace(2, 1, d_t),
               dict(model.teacher_identity, teacher_arch='ResNet-18'))
    assert build(tiny_setup['teacher'], path).align.is_initialized

    other = make_teacher(str(tmp_path / 'other.pth'), seed=1)
    other_fp = build(other).teacher_info['fingerprint']
    with pytest.raises(ValueError) as err:
        build(other, path)
    msg = str(err.value)
    assert model.teacher_info['fingerprint'] in msg and other_fp in msg
