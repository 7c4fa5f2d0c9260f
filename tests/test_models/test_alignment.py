"""SVD + PTS alignment: the target formula, widths and rank policies."""
import pytest
import torch

from kdep_mm.models import SVDPTSAlignment
from tests.helpers.tiny import basis_of, set_random_basis


def test_pts_target_formula():
    torch.manual_seed(0)
    feats = torch.randn(64, 12) * torch.linspace(5, 0.1, 12)
    res = basis_of(feats)
    align = SVDPTSAlignment(temperature=0.1, power=3)
    align.build(d_s=8, d_t=12)
    align.set_basis(res['mean'], res['basis'], res['spectrum'],
                    res['num_images'])
    f_t = torch.randn(5, 12)
    f_s = torch.randn(5, 8)
    pred, target = align(f_s, f_t)
    z = (f_t - res['mean']) @ res['basis'][:, :8]
    expected = torch.sign(z) * (z / 0.1).abs()**(1 / 3)
    torch.testing.assert_close(target, expected)
    torch.testing.assert_close(pred, f_s)
    no_pts = SVDPTSAlignment(use_pts=False)
    no_pts.build(8, 12)
    no_pts.set_basis(res['mean'], res['basis'], res['spectrum'])
    torch.testing.assert_close(no_pts(f_s, f_t)[1], z)


@pytest.mark.parametrize('policy', ['mask', 'zero', 'keep'])
def test_a_wider_student_distils_its_first_d_t_channels(policy):
    """d_s = 12 > d_t = 8: k = 8, a warning names channels 8..11, and with
    every policy the prediction is the student's first 8 channels."""
    align = SVDPTSAlignment(rank_policy=policy, label='dense_s8')
    with pytest.warns(
            UserWarning,
            match=r'dense_s8: .*12 channels.*only 8.*channels '
            r'8\.\.11 get no target'):
        align.build(d_s=12, d_t=8)
    assert align.k == 8
    set_random_basis(align)
    f_s, f_t = torch.randn(3, 12), torch.randn(3, 8)
    pred, target = align(f_s, f_t)
    assert pred.shape == target.shape == (3, 8)
    assert torch.equal(pred, f_s[:, :8])


def test_basis_and_initialisation_errors():
    align = SVDPTSAlignment()
    align.build(4, 8)
    with pytest.raises(ValueError, match='does not fit'):
        align.set_basis(torch.zeros(6), torch.zeros(6, 4), torch.zeros(6))
    with pytest.raises(RuntimeError, match='not initialised'):
        align(torch.zeros(2, 4), torch.zeros(2, 8))


@pytest.mark.parametrize('policy', ['mask', 'zero', 'keep'])
def test_rank_deficient_teacher(policy):
    torch.manual_seed(0)
    # 16-d features that live in a 5-d subspace (+ float32 rounding noise).
    feats = (torch.randn(300, 5) @ torch.randn(5, 16)).float()
    res = basis_of(feats)
    align = SVDPTSAlignment(rank_policy=policy)
    align.build(d_s=8, d_t=16)
    with pytest.warns(UserWarning, match='numerical rank 5 < k = 8'):
        align.set_basis(res['mean'], res['basis'], res['spectrum'])
    assert int(align.rank) == 5
    pred, target = align(torch.randn(4, 8), feats[:4])
    if policy == 'mask':
        assert pred.shape == target.shape == (4, 5)
    elif policy == 'zero':
        assert target.shape == (4, 8)
        assert (target[:, 5:] == 0).all() and (target[:, :5] != 0).all()
    else:
        assert target.shape == (4, 8) and (target[:, 5:] != 0).any()
