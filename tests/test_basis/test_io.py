"""Basis files are written atomically and refuse to be used with another
teacher, tap or width (the message names both sides)."""
import os
import subprocess
import sys

import pytest
import torch

from kdep_mm.basis import (basis_meta, load_basis, load_basis_into, save_basis,
                           save_model_basis)
from tests.helpers.datagen import save_backbone
from tests.helpers.tiny import ROOT, build_kdep, fill_basis

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

    monkeypatch.setattr(torch, 'save', half_then_crash)
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
from kdep_mm.basis import save_basis
def save(obj, f):
    f.write(b'partial'); f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = save
save_basis({path!r}, torch.zeros(4), torch.eye(4), torch.ones(4), {{}})
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
        return build_kdep(
            dict(model=dict(type='ResNet', depth=18), checkpoint=ckpt),
            backbone=dict(type='ResNet', depth=18),
            basis_file=basis)

    model = build(tiny_setup['teacher'])
    d_t = model.align.d_t
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(d_t, d_t, generator=g))
    path = str(tmp_path / 'basis.pth')
    save_basis(path, torch.zeros(d_t), basis, torch.linspace(2, 1, d_t),
               dict(basis_meta(model), teacher_arch='ResNet-18'))
    assert build(tiny_setup['teacher'], path).align.is_initialized

    other = save_backbone(
        dict(type='ResNet', depth=18), str(tmp_path / 'other.pth'), seed=1)
    other_fp = build(other).teacher_meta['fingerprint']
    with pytest.raises(ValueError) as err:
        build(other, path)
    msg = str(err.value)
    assert model.teacher_meta['fingerprint'] in msg and other_fp in msg


def test_basis_file_reuse_and_refusal(tmp_path, backbone_file, r34_teacher,
                                      r50_teacher):
    model = build_kdep(r34_teacher)
    with pytest.warns(UserWarning):
        res = fill_basis(model)
    path = str(tmp_path / 'basis.pth')
    save_basis(path, res['mean'], res['basis'], res['spectrum'],
               basis_meta(model, num_images=24))
    with pytest.warns(UserWarning):
        again = build_kdep(r34_teacher, basis_file=path)
    assert again.align.is_initialized
    torch.testing.assert_close(again.align.basis, model.align.basis)
    # Same architecture, other weights: another teacher.
    other = dict(
        r34_teacher, checkpoint=backbone_file(r34_teacher['model'], seed=1))
    with pytest.raises(ValueError, match='teacher_fingerprint: file has'):
        build_kdep(other, basis_file=path)
    # Another tap on the same teacher.
    with pytest.raises(ValueError, match='teacher_tap: file has'):
        build_kdep(
            r34_teacher,
            teacher_tap=dict(module='layer4', hook='output'),
            basis_file=path)
    # Other dimensions (a ResNet-50 teacher, D_t = 2048).
    with pytest.raises(ValueError, match='d_t: file has 512'):
        build_kdep(r50_teacher, basis_file=path)


def test_basis_meta_is_the_teacher_meta(r34_teacher):
    """The file's identity fields come from ``KDEP.teacher_meta`` (the one
    description of the teacher) and are what a load checks."""
    model = build_kdep(r34_teacher)
    t = model.teacher_meta
    meta = basis_meta(model, num_images=3)
    assert meta == dict(
        teacher_fingerprint=t['fingerprint'],
        teacher_tap=t['tap'],
        d_t=t['width'],
        teacher_arch=str(t['model']),
        teacher_checkpoint=t['checkpoint'],
        num_images=3)
    assert t['tap'] == model.teacher_tap.describe() and t['width'] == 512


def test_save_model_basis_and_load_basis_into(tmp_path, r34_teacher):
    model = build_kdep(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        res = dict(fill_basis(model), num_images=24)
    path = save_model_basis(model, dict(pooled=res),
                            str(tmp_path / 'basis.pth'))
    obj = load_basis(path, expect=basis_meta(model), k=512)
    assert obj['meta']['num_images'] == 24
    assert obj['meta']['rank'] == int(model.align.rank) == 23
    assert obj['meta']['k_max'] == 512  # all D_t directions are kept
    for key in ('mean', 'basis', 'spectrum'):
        assert torch.equal(obj[key], res[key]), key

    fresh = build_kdep(r34_teacher)
    assert not fresh.align.is_initialized
    with pytest.warns(UserWarning, match='numerical rank'):
        load_basis_into(fresh, path)
    assert torch.equal(fresh.align.basis, model.align.basis)
    assert int(fresh.align.num_images) == 24
    # an alignment without a basis has no use for the file
    parametric = build_kdep(
        r34_teacher, align=dict(type='ParametricAlignment'))
    with pytest.raises(ValueError, match='uses no basis'):
        load_basis_into(parametric, path)
