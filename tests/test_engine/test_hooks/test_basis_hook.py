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
