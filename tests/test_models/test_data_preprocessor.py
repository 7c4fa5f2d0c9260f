"""The KDEP data preprocessor: ClsDataPreprocessor's images, plus the
batch's stacked cached targets copied to the device and passed on whole."""
import torch

from kdep_mm.datasets import kdep_collate
from kdep_mm.models import KDEPDataPreprocessor
from tests.test_datasets.test_collate import _items


def test_preprocessor_passes_the_stacked_targets_on():
    pre = KDEPDataPreprocessor(mean=[0, 0, 0], std=[1, 1, 1])
    out = pre(kdep_collate(_items()), True)
    stacked = out['kdep_targets']  # KDEP.forward(**out) receives them
    assert stacked['pooled'][:, 0].tolist() == [0.0, 1.0, 2.0]
    assert stacked['dense_s8'].shape == (3, 2, 2, 2)
    assert all('kdep_target' not in s for s in out['data_samples'])
    # and a batch without stacked targets is ClsDataPreprocessor's
    plain = pre(dict(inputs=[torch.zeros(3, 8, 8, dtype=torch.uint8)]))
    assert plain['inputs'].shape == (1, 3, 8, 8)
