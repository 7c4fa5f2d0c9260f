"""KDEPLoss: its modes equal their formulas; misuse is refused."""
import pytest
import torch
import torch.nn.functional as F

from kdep_mm.models import KDEPLoss


def test_loss_modes():
    p, t = torch.randn(4, 6), torch.randn(4, 6)
    assert KDEPLoss('mse', 3.0)(p, t) == pytest.approx(
        3.0 * ((p - t)**2).mean().item(), rel=1e-6)
    assert KDEPLoss('smooth_l1', 1.0)(p, t) == pytest.approx(
        F.smooth_l1_loss(p, t).item(), rel=1e-6)
    assert KDEPLoss('cosine', 1.0)(p, p).item() == pytest.approx(0, abs=1e-6)
    kl = KDEPLoss('kl', 1.0, temperature=4.0)
    assert kl(t, t).item() == pytest.approx(0, abs=1e-6) and kl(p, t) > 0
    with pytest.raises(ValueError, match='differ in shape'):
        KDEPLoss()(p, t[:, :3])
    with pytest.raises(ValueError, match='mode must be'):
        KDEPLoss('l3')
