"""Where a model's bases come from, decided in one function
(:func:`ensure_basis`): present (no pass, no file), an explicit file
(checked: teacher, tap, width, pool), the work directory's file reused only
for this teacher and pool, or one teacher pass written for later runs."""
import logging
import os.path as osp

import pytest
import torch

import kdep_mm.basis.lifecycle as lifecycle
from kdep_mm.basis import ensure_basis, fit_basis, load_basis, save_model_basis
from kdep_mm.datasets.pool import pool_id, sorted_pool_fingerprint
from kdep_mm.utils.misc import build_mmpretrain
from tests.helpers.datagen import zero_tensor_bytes
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


def _saved(teacher, path, data=None):
    model = build_kdep(teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        res = dict(fill_basis(model), num_images=24)
    return save_model_basis(model, dict(pooled=res), path, data=data)


def test_an_explicit_file_of_another_pool_needs_a_reason(
        r34_teacher, tmp_path, counted):
    """``basis_file=`` computed from other images: refused naming both pool
    fingerprints, or used with the reason logged; the older (sorted)
    fingerprint of the same images and a file without one pass, said."""
    paths = [f'img_{i}.png' for i in range(12)]
    pool = pool_id(paths)
    other = _saved(r34_teacher, str(tmp_path / 'other.pth'),
                   'fedcba9876543210')
    with pytest.raises(ValueError) as err:
        ensure_basis(
            build_kdep(r34_teacher), None, basis_file=other, data=pool)
    msg = str(err.value)
    assert f'basis file {other} was computed from other images' in msg
    assert "'fedcba9876543210', 24 images in the file" in msg
    assert f"this run's pool {pool.fingerprint!r}, 12 images" in msg
    assert "--basis-other-pool 'REASON'" in msg
    path, log = _ensure(
        build_kdep(r34_teacher),
        basis_file=other,
        data=pool,
        other_pool='the 10% basis on purpose')
    assert path == other and 'used as asked: the 10% basis on purpose' in log
    # a file installed when the model was built is checked too
    with pytest.warns(UserWarning, match='numerical rank'):
        built = build_kdep(r34_teacher, basis_file=other)
    with pytest.raises(ValueError, match='computed from other images'):
        ensure_basis(built, None, basis_file=other, data=lambda: pool)
    older = _saved(r34_teacher, str(tmp_path / 'older.pth'),
                   sorted_pool_fingerprint(reversed(paths)))
    assert 'older (sorted) fingerprint' in _ensure(
        build_kdep(r34_teacher), basis_file=older, data=pool)[1]
    unknown = _saved(r34_teacher, str(tmp_path / 'unknown.pth'))
    assert 'records no pool fingerprint' in _ensure(
        build_kdep(r34_teacher), basis_file=unknown, data=pool)[1]
    assert not counted


def test_a_damaged_work_file_is_recomputed_and_rewritten(
        r34_teacher, tmp_path, counted):
    work = _saved(r34_teacher, str(tmp_path / 'kdep_basis.pth'), 'pool-a')
    zero_tensor_bytes(work)
    _, log = _ensure(build_kdep(r34_teacher), work_file=work, data='pool-a')
    assert f'KDEP basis in {work} not reused: its tensors do not match' in log
    assert 'It is recomputed from the images now (one teacher pass) and ' \
        f'{work} is rewritten with it, replacing the damaged file' in log
    assert 'Write it again' not in log and len(counted) == 1
    load_basis(work)  # the rewritten file reads


def test_a_dense_basis_of_another_teacher_names_each_stage(
        r34_teacher, tiny_setup, tmp_path):
    """Every slot that does not fit is named: the pooled one and each
    stage (``dense_s8``, ...), each with both teacher fingerprints."""

    def dense(teacher, **kwargs):
        return build_mmpretrain(
            dict(
                type='DenseKDEP',
                backbone=dict(type='ResNet', depth=18),
                teacher=teacher,
                probe_size=32,
                dense=[dict(stride=8)],
                **kwargs))

    model = dense(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        result = fit_basis(
            model,
            Batches(IMAGES, 6),
            logger=logging.getLogger('test_lifecycle.quiet'))
    path = save_model_basis(model, result, str(tmp_path / 'dense.pth'))
    other = dict(
        model=dict(type='ResNet', depth=18), checkpoint=tiny_setup['teacher'])
    with pytest.raises(ValueError) as err:
        dense(other, basis_file=path)
    msg = str(err.value)
    for slot in ('pooled', 'dense_s8'):
        assert f'basis file {path} ({slot}) does not belong' in msg, msg
    assert msg.count("teacher_fingerprint: file has") == 2
