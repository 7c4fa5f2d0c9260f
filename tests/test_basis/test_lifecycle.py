"""Where a model's bases come from, decided in one function
(:func:`ensure_basis`): present (no pass, no file), an explicit file
(checked), the work directory's file reused only for this teacher and
pool, or one teacher pass written for later runs."""
import logging
import os.path as osp

import pytest
import torch

import kdep_mm.basis.lifecycle as lifecycle
from kdep_mm.basis import ensure_basis, load_basis, save_model_basis
from tests.helpers.tiny import Batches, build_kdep, fill_basis

IMAGES = torch.rand(12, 3, 32, 32) * 255


class _Log(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def counted(monkeypatch):
    """Count the teacher passes."""
    calls = []
    real = lifecycle.fit_basis

    def fit(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle, 'fit_basis', fit)
    return calls


def _ensure(model, **kwargs):
    logger = logging.getLogger('test_lifecycle')
    logger.setLevel(logging.INFO)
    log = _Log()
    logger.addHandler(log)
    with pytest.warns(UserWarning, match='numerical rank'):
        path = ensure_basis(
            model, lambda: Batches(IMAGES, 5), logger=logger, **kwargs)
    logger.removeHandler(log)
    return path, '\n'.join(log.lines)


def test_compute_then_reuse_then_present(r34_teacher, tmp_path, counted):
    work = str(tmp_path / 'kdep_basis.pth')
    first = build_kdep(r34_teacher)
    assert _ensure(first, work_file=work, data='pool-a')[0] == work
    assert len(counted) == 1 and load_basis(work)['meta']['num_images'] == 12
    again = build_kdep(r34_teacher)
    path, log = _ensure(again, work_file=work, data='pool-a')
    assert path == work and len(counted) == 1 and 'reused from' in log
    assert torch.equal(again.align.basis, first.align.basis)
    # present (e.g. a resumed checkpoint): nothing read, nothing computed
    logger = logging.getLogger('test_lifecycle')
    assert ensure_basis(again, None, logger=logger) is None
    assert len(counted) == 1
    # another pool: recomputed, the reason said
    other = build_kdep(r34_teacher)
    path, log = _ensure(other, work_file=work, data='pool-b')
    assert len(counted) == 2 and 'computed from other images' in log


def test_an_explicit_file_is_checked_and_wins(r34_teacher, r50_teacher,
                                              tmp_path, counted):
    model = build_kdep(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        res = dict(fill_basis(model), num_images=24)
    path = save_model_basis(model, dict(pooled=res), str(tmp_path / 'b.pth'))
    fresh = build_kdep(r34_teacher)
    assert _ensure(fresh, basis_file=path)[0] == path and not counted
    assert torch.equal(fresh.align.basis, model.align.basis)
    with pytest.raises(ValueError, match='teacher_fingerprint'):
        ensure_basis(
            build_kdep(r50_teacher),
            None,
            basis_file=path,
            work_file=osp.join(str(tmp_path), 'unused.pth'))
    assert not counted
