"""Cached targets collated in the loader's workers: one float16 tensor per
column, and the samples without their copy (sent once)."""
import numpy as np
import torch
from mmpretrain.structures import DataSample

from kdep_mm.datasets import kdep_collate


def _items(n=3):
    items = []
    for i in range(n):
        s = DataSample()
        s.set_field(
            dict(
                pooled=np.full(4, i, np.float16),
                dense_s8=np.full((2, 2, 2), -i, np.float16)), 'kdep_target')
        items.append(
            dict(
                inputs=torch.full((3, 8, 8), i, dtype=torch.uint8),
                data_samples=s))
    return items


def test_targets_stacked_per_column_and_sent_once():
    batch = kdep_collate(_items())
    stacked = batch['kdep_targets']
    assert stacked['pooled'].shape == (3, 4)
    assert stacked['pooled'].dtype == torch.float16
    assert stacked['dense_s8'].shape == (3, 2, 2, 2)
    assert torch.equal(stacked['dense_s8'][2],
                       torch.full((2, 2, 2), -2, dtype=torch.float16))
    assert all('kdep_target' not in s for s in batch['data_samples'])
    assert batch['inputs'].shape == (3, 3, 8, 8)  # images stacked too
    assert isinstance(
        kdep_collate(_items(), stack_inputs=False)['inputs'], list)
