"""The cache format: the row layout of a shard per column, the columns of a
format-2 (pooled-only) manifest, and the identity check naming both
sides."""
import numpy as np
import pytest

from kdep_mm.datasets.target_cache.layout import (CacheError, check_manifest,
                                                  columns_of, field_of,
                                                  row_dtype)
from .helpers import COLUMNS


def test_row_dtype_has_the_boxes_and_a_float16_field_per_column():
    dt = row_dtype(3, COLUMNS)
    assert dt.names == ('boxes', 'targets', 'dense_s8')
    assert dt['boxes'].shape == (3, 5) and dt['boxes'].base == np.int32
    assert dt['targets'].shape == (3, 4) and dt['targets'].base == np.float16
    assert dt['dense_s8'].shape == (3, 2, 2, 2)
    # bytes per image: what docs/target_cache.md's formula gives
    assert dt.itemsize == 3 * (5 * 4 + 2 * (4 + 2 * 2 * 2))
    assert field_of('pooled') == 'targets' and field_of('x') == 'x'


def test_a_format_2_manifest_is_one_pooled_column():
    old = dict(
        format='kdep_target_cache/2',
        dim=512,
        rank=37,
        teacher_tap='layer4.2.relu:input',
        teacher=dict(width=2048))
    assert columns_of(old) == dict(
        pooled=dict(
            dim=512,
            rank=37,
            d_t=2048,
            teacher_tap='layer4.2.relu:input',
            stride=None))
    # and its rows are laid out as format 2 wrote them
    assert row_dtype(10, columns_of(old)).names == ('boxes', 'targets')


def test_check_manifest_names_the_field_and_both_sides():
    have = dict(teacher_fingerprint='a', pool_fingerprint='p')
    check_manifest(have, dict(teacher_fingerprint='a'), 'here')
    with pytest.raises(
            CacheError,
            match="teacher_fingerprint: cache has "
            "'a', expected 'b'"):
        check_manifest(have, dict(teacher_fingerprint='b'), 'here')
