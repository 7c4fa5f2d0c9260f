"""Freshly exported KDEP students (random weights), one per architecture."""
import pytest

from kdep_mm.testing import make_kdep_checkpoint
from kdep_mm.utils.export import export_student


@pytest.fixture(scope='session')
def kdep_ckpt(tmp_path_factory):
    """``kdep_ckpt(student)``: a full KDEP pre-training checkpoint."""
    root = tmp_path_factory.mktemp('kdep_ckpt')
    cache = {}

    def get(student: str) -> str:
        if student not in cache:
            path = str(root / f'{student}_epoch_1.pth')
            make_kdep_checkpoint(path, student, seed=1)
            cache[student] = path
        return cache[student]

    return get


@pytest.fixture(scope='session')
def exported(kdep_ckpt, tmp_path_factory):
    """``exported(student)``: the exported backbone file of it."""
    root = tmp_path_factory.mktemp('exported')
    cache = {}

    def get(student: str) -> str:
        if student not in cache:
            cache[student] = export_student(kdep_ckpt(student), str(root))
        return cache[student]

    return get
