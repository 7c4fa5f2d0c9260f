"""Streaming float64 statistics: the same basis as an SVD of the centred
features; the numerical rank."""
import pytest
import torch

from kdep_mm.basis import StreamingCovariance, numerical_rank
from tests.helpers.tiny import basis_of


def test_streaming_basis_equals_svd():
    torch.manual_seed(0)
    feats = torch.randn(200, 16) @ torch.randn(16, 16) + 3
    res = basis_of(feats)
    centred = (feats - feats.mean(0)).double()
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    torch.testing.assert_close(
        res['mean'], feats.mean(0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        res['spectrum'].double(), s, rtol=1e-4, atol=1e-4)
    assert (res['spectrum'][:-1] >= res['spectrum'][1:]).all()
    k = 6  # same subspace (and directions, up to sign)
    ours, ref = res['basis'][:, :k].double(), vh[:k].T
    torch.testing.assert_close(ours.abs(), ref.abs(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(
        ours @ ours.T, ref @ ref.T, rtol=1e-5, atol=1e-5)


def test_refuses_bad_features():
    stats = StreamingCovariance(4)
    with pytest.raises(ValueError, match=r'expected features \(B, 4\)'):
        stats.update(torch.zeros(2, 5))
    with pytest.raises(FloatingPointError, match='non-finite'):
        stats.update(torch.tensor([[0., 1., float('nan'), 2.]]))
    stats.update(torch.ones(1, 4))
    with pytest.raises(ValueError, match='at least 2 images, got 1'):
        stats.decompose()


def test_numerical_rank():
    s = torch.tensor([4.0, 2.0, 1e-3, 1e-9])
    assert numerical_rank(s, 1e-4) == 3  # 1e-3 > 4e-4; 1e-9 is not
    assert numerical_rank(s, 0.6) == 1
    assert numerical_rank(torch.zeros(3), 1e-4) == 0
    assert numerical_rank(torch.zeros(0), 1e-4) == 0
