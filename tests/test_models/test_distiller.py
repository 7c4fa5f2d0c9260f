"""The KDEP distiller: frozen teacher, student-only state, strict loading."""
import pytest
import torch
from mmpretrain.registry import MODELS

from kdep_mm.models import KDEP
from kdep_mm.utils import CheckpointMismatchError
from kdep_mm.utils.basis import StreamingCovariance
from kdep_mm.utils.basis_file import save_basis


def _model(teacher, **kwargs):
    return MODELS.build(
        dict(
            type='KDEP',
            backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
            teacher=teacher,
            probe_size=32,
            **kwargs))


def _fill_basis(model, n=24):
    stats = StreamingCovariance(model.align.d_t)
    stats.update(model.extract_teacher_feat(torch.randn(n, 3, 32, 32)))
    res = stats.decompose()
    model.align.set_basis(res['mean'], res['basis'], res['spectrum'], n)
    return res


def test_teacher_is_frozen_and_not_in_state_dict(r34_teacher):
    model = _model(r34_teacher)
    assert isinstance(model, KDEP)
    assert model.align.d_s == model.align.d_t == 512
    keys = model.state_dict().keys()
    assert not any(k.startswith('teacher') for k in keys)
    assert {k.split('.')[0] for k in keys} == {'backbone', 'align'}
    assert all(not p.requires_grad for p in model.teacher.parameters())
    own = {id(p) for p in model.parameters()}
    assert not any(id(p) in own for p in model.teacher.parameters())
    model.train()
    assert model.backbone.training and not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())


def test_training_steps_leave_the_teacher_unchanged(r34_teacher):
    from mmengine.optim import OptimWrapper
    model = _model(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        _fill_basis(model)  # 24 images: rank 23 < k = 512
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = model.backbone.conv1.weight.clone()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train()
    data = dict(inputs=torch.randint(0, 255, (4, 3, 32, 32)).float())
    losses = [model.train_step(data, wrapper)['loss'].item() for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(losses)))
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.teacher.parameters())
    assert not torch.equal(model.backbone.conv1.weight, student_before)


def test_teacher_checkpoint_strict(tmp_path, r34_teacher):
    with pytest.raises(FileNotFoundError, match='not found'):
        _model(dict(r34_teacher, checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(CheckpointMismatchError) as err:
        _model(dict(r34_teacher, model=dict(type='ResNet', depth=18)))
    assert 'unexpected keys' in str(err.value)
    assert 'layer1.2.conv1.weight' in str(err.value)  # R34 has 3 blocks
    with pytest.raises(ValueError, match='checkpoint is required'):
        _model(dict(model=dict(type='ResNet', depth=18), checkpoint=None))


def test_student_wider_than_teacher_fails_at_build(backbone_file):
    cfg = dict(type='ResNet', depth=18)
    teacher = dict(model=cfg, checkpoint=backbone_file(cfg))
    with pytest.raises(ValueError, match='2048 channels but the teacher'):
        MODELS.build(
            dict(
                type='KDEP',
                backbone=dict(type='ResNet', depth=50),
                teacher=teacher,
                probe_size=32))


def test_basis_file_reuse_and_refusal(tmp_path, backbone_file, r34_teacher,
                                      r50_teacher):
    model = _model(r34_teacher)
    with pytest.warns(UserWarning):
        res = _fill_basis(model)
    path = str(tmp_path / 'basis.pth')
    save_basis(path, res['mean'], res['basis'], res['spectrum'],
               dict(model.teacher_identity, num_images=24))
    with pytest.warns(UserWarning):
        again = _model(r34_teacher, basis_file=path)
    assert again.align.is_initialized
    torch.testing.assert_close(again.align.basis, model.align.basis)
    # Same architecture, other weights: another teacher.
    other = dict(
        r34_teacher, checkpoint=backbone_file(r34_teacher['model'], seed=1))
    with pytest.raises(ValueError, match='teacher_fingerprint: file has'):
        _model(other, basis_file=path)
    # Another tap on the same teacher.
    with pytest.raises(ValueError, match='teacher_tap: file has'):
        _model(
            dict(r34_teacher, tap=dict(module='layer4', hook='output')),
            basis_file=path)
    # Other dimensions (a ResNet-50 teacher, D_t = 2048).
    with pytest.raises(ValueError, match='d_t: file has 512'):
        _model(r50_teacher, basis_file=path)


def test_rank_deficient_teacher_is_detected(backbone_file):
    """MobileNetV2 x0.5: its last 1x1 conv maps 160 channels to 1280, so
    the pre-activation feature has rank <= 160 < k = 512 (ResNet-18)."""
    from mmengine.optim import OptimWrapper

    from kdep_mm.engine.hooks import KDEPBasisHook
    cfg = dict(type='MobileNetV2', widen_factor=0.5)
    model = _model(dict(model=cfg, checkpoint=backbone_file(cfg)))
    assert model.align.d_t == 1280 and model.align.k == 512
    torch.manual_seed(0)
    images = torch.rand(400, 3, 32, 32) * 255
    loader = [dict(inputs=list(batch)) for batch in images.split(100)]

    class Loader(list):
        dataset = range(400)

    stats = KDEPBasisHook().collect(model, Loader(loader), _NullLogger())
    res = stats.decompose()
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


class _NullLogger:

    def info(self, msg):
        pass
