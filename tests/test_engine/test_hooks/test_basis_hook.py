"""KDEPBasisHook: fits the basis once before training and writes the basis
file; leaves a loaded basis and basis-free alignments alone.

(The hook inside real runs: tests/tools/test_train.py, resumed runs:
test_random_state_hook.py, two processes: tests/integration.)"""
import logging
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

from kdep_mm.basis import basis_meta, load_basis
from kdep_mm.engine.hooks import KDEPBasisHook
from tests.helpers.tiny import Batches, build_kdep, set_random_basis


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _runner(model, work_dir, images):
    logger = logging.getLogger(f'test_basis_hook.{id(model)}')
    logger.setLevel(logging.INFO)
    records = _Records()
    logger.addHandler(records)
    runner = SimpleNamespace(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=Batches(images, 8),
        logger=logger)
    return runner, records


@pytest.fixture
def images():
    return torch.rand(
        20, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255


def test_fits_and_writes_the_basis_file(r34_teacher, images, tmp_path):
    model = build_kdep(r34_teacher)
    runner, records = _runner(model, tmp_path, images)
    with pytest.warns(UserWarning, match='numerical rank 15 < k = 512'):
        KDEPBasisHook(num_images=16).before_train(runner)
    assert model.align.is_initialized and int(model.align.num_images) == 16
    path = osp.join(str(tmp_path), 'kdep_basis.pth')
    assert os.listdir(tmp_path) == ['kdep_basis.pth']
    obj = load_basis(path, expect=basis_meta(model), k=model.align.k)
    assert obj['meta']['num_images'] == 16 and obj['meta']['rank'] == 15
    assert torch.equal(obj['basis'][:, :model.align.k], model.align.basis)
    assert torch.equal(obj['mean'], model.align.mean)
    text = '\n'.join(records.lines)
    assert 'KDEP basis: teacher features of 16 images' in text
    assert 'numerical rank 15 of D_t = 512' in text
    assert f'KDEP basis written to {path}' in text


def test_out_file_and_no_file(r34_teacher, images, tmp_path):
    model = build_kdep(r34_teacher)
    runner, _ = _runner(model, tmp_path / 'work', images)
    out = str(tmp_path / 'elsewhere' / 'b.pth')
    with pytest.warns(UserWarning):
        KDEPBasisHook(out_file=out).before_train(runner)
    assert load_basis(out)['meta']['num_images'] == 20
    assert not osp.exists(tmp_path / 'work')
    model = build_kdep(r34_teacher)
    runner, _ = _runner(model, tmp_path / 'none', images)
    with pytest.warns(UserWarning):
        KDEPBasisHook(out_file='').before_train(runner)
    assert model.align.is_initialized
    assert not osp.exists(tmp_path / 'none')


def test_a_loaded_basis_is_not_recomputed(r34_teacher, images, tmp_path):
    model = build_kdep(r34_teacher)
    runner, records = _runner(model, tmp_path, images)
    align = model.align
    set_random_basis(align, seed=1, num_images=7)
    basis = align.basis.clone()
    KDEPBasisHook().before_train(runner)
    assert torch.equal(align.basis, basis) and int(align.num_images) == 7
    assert 'not recomputing it' in '\n'.join(records.lines)
    assert os.listdir(tmp_path) == []


def test_alignments_without_a_basis_are_left_alone(r34_teacher, images,
                                                   tmp_path):
    model = build_kdep(r34_teacher, align=dict(type='ParametricAlignment'))
    runner, records = _runner(model, tmp_path, images)
    KDEPBasisHook().before_train(runner)
    assert records.lines == [] and os.listdir(tmp_path) == []


def test_reuses_the_work_dirs_basis_file_only_when_it_is_this_runs(
        r34_teacher, r50_teacher, images, tmp_path, monkeypatch):
    """A run that died before its first checkpoint (or a re-run) reuses the
    basis file in its work directory instead of paying the teacher pass
    again, but only for the same teacher, tap, width and images."""
    import kdep_mm.basis.lifecycle as hook_module
    first = build_kdep(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        KDEPBasisHook().before_train(_runner(first, tmp_path, images)[0])
    fitted = []
    real_fit = hook_module.fit_basis

    def counting_fit(*args, **kwargs):
        fitted.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(hook_module, 'fit_basis', counting_fit)
    again = build_kdep(r34_teacher)
    runner, records = _runner(again, tmp_path, images)
    with pytest.warns(UserWarning, match='numerical rank'):
        KDEPBasisHook().before_train(runner)
    assert not fitted and 'reused from' in '\n'.join(records.lines)
    assert torch.equal(again.align.basis, first.align.basis)
    # other images: recomputed, and the reason is logged
    other_images = _runner(build_kdep(r34_teacher), tmp_path, images[:12])
    with pytest.warns(UserWarning, match='numerical rank'):
        KDEPBasisHook().before_train(other_images[0])
    assert len(fitted) == 1
    assert 'other images' in '\n'.join(other_images[1].lines)
    # another teacher: refused by its identity, recomputed
    other_teacher = _runner(build_kdep(r50_teacher), tmp_path, images[:12])
    with pytest.warns(UserWarning, match='numerical rank'):
        KDEPBasisHook().before_train(other_teacher[0])
    assert len(fitted) == 2
    assert 'teacher_fingerprint' in '\n'.join(other_teacher[1].lines)
    # a damaged file: named, recomputed
    with open(osp.join(str(tmp_path), 'kdep_basis.pth'), 'wb') as f:
        f.write(b'')
    damaged = _runner(build_kdep(r34_teacher), tmp_path, images)
    with pytest.warns(UserWarning, match='numerical rank'):
        KDEPBasisHook().before_train(damaged[0])
    assert len(fitted) == 3 and 'is empty' in '\n'.join(damaged[1].lines)
