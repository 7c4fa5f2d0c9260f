"""Freshly exported KDEP students (random weights), one per architecture."""
import pytest

from kdep_mm.utils.export import export_student


@pytest.fixture(scope='session')
def exported(kdep_ckpt, tmp_path_factory):
    """``exported(student)``: the exported backbone file of the
    ``kdep_ckpt(student)`` checkpoint (tests/conftest.py)."""
    root = tmp_path_factory.mktemp('exported')
    cache = {}

    def get(student: str) -> str:
        if student not in cache:
            cache[student] = export_student(kdep_ckpt(student), str(root))
        return cache[student]

    return get
