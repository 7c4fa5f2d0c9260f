"""One teacher pass -> the basis: the statistics of the distilled teacher
feature, installed in the alignment; a rank-deficient teacher is found."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from kdep_mm.basis import StreamingCovariance, fit_basis
from kdep_mm.basis.fit import broadcast_result, collect_statistics
from tests.helpers.tiny import Batches, build_kdep


class _NullLogger:

    def info(self, msg):
        pass


def test_rank_deficient_teacher_is_detected(backbone_file):
    """MobileNetV2 x0.5: its last 1x1 conv maps 160 channels to 1280, so
    the pre-activation feature has rank <= 160 < k = 512 (ResNet-18)."""
    cfg = dict(type='MobileNetV2', widen_factor=0.5)
    model = build_kdep(dict(model=cfg, checkpoint=backbone_file(cfg)))
    assert model.align.d_t == 1280 and model.align.k == 512
    torch.manual_seed(0)
    images = torch.rand(400, 3, 32, 32) * 255
    stats = collect_statistics(
        model, Batches(images, 100), logger=_NullLogger())
    assert list(stats) == ['pooled']
    res = stats['pooled'].decompose()
    with pytest.warns(UserWarning, match='numerical rank 160 < k = 512'):
        model.align.set_basis(res['mean'], res['basis'], res['spectrum'],
                              res['num_images'])
    assert model.align.num_targets == 160
    s = res['spectrum']
    assert int(model.align.rank) == 160
    assert s[160] < 1e-5 * s[0]  # beyond the rank: rounding noise only
    pred, target = model.align(torch.randn(2, 512), torch.randn(2, 1280))
    assert pred.shape == target.shape == (2, 160)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    loss = model.train_step(dict(inputs=images[:4]), wrapper)['loss']
    assert torch.isfinite(loss)


def test_fit_basis_installs_the_teacher_statistics(r34_teacher):
    """``fit_basis`` = the covariance of the teacher's distilled feature of
    the preprocessed images (at most ``num_images``), installed in the
    alignment; the same on every rank (alone: unchanged)."""
    model = build_kdep(r34_teacher)
    torch.manual_seed(0)
    images = torch.rand(40, 3, 32, 32) * 255
    logger = _NullLogger()
    with pytest.warns(UserWarning, match='numerical rank 29 < k = 512'):
        res = fit_basis(model, Batches(images, 16), 30, logger=logger)
    assert list(res) == ['pooled']
    res = res['pooled']
    assert res['num_images'] == 30 and int(model.align.num_images) == 30
    x = model.data_preprocessor(dict(inputs=list(images[:30])))['inputs']
    ref = StreamingCovariance(512)
    ref.update(model.extract_teacher_feat(x))
    ref = ref.decompose()
    torch.testing.assert_close(res['mean'], ref['mean'])
    torch.testing.assert_close(
        res['spectrum'], ref['spectrum'], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model.align.mean, res['mean'], rtol=0, atol=0)
    assert torch.equal(model.align.spectrum, res['spectrum'])
    assert torch.equal(model.align.basis, res['basis'][:, :512])
    assert broadcast_result(res, 512, 'cpu') is res  # a single process
