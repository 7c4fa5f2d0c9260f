"""The KDEP distiller: frozen teacher, student-only state, its metadata."""
import pytest
import torch

from kdep_mm.models import KDEP
from tests.helpers.tiny import build_kdep, fill_basis


def test_teacher_is_frozen_and_not_in_state_dict(r34_teacher):
    model = build_kdep(r34_teacher)
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
    model = build_kdep(r34_teacher)
    with pytest.warns(UserWarning, match='numerical rank'):
        fill_basis(model)  # 24 images: rank 23 < k = 512
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


def test_a_student_wider_than_the_teacher_distils_its_first_channels(
        backbone_file):
    """ResNet-50 (2048) from a ResNet-18 teacher (512): the basis has 512
    directions, so the student's first 512 channels get targets and the
    warning names the 1536 without one (the rule of dense stages)."""
    cfg = dict(type='ResNet', depth=18)
    teacher = dict(model=cfg, checkpoint=backbone_file(cfg))
    with pytest.warns(
            UserWarning,
            match=r'2048 channels.*only 512.*'
            r'channels 512\.\.2047 get no target'):
        model = build_kdep(teacher, backbone=dict(type='ResNet', depth=50))
    assert (model.align.d_s, model.align.d_t, model.align.k) == (2048, 512,
                                                                 512)
    with pytest.warns(UserWarning, match='numerical rank 39 < k = 512'):
        fill_basis(model, n=40)
    pred, target = model._pairs(torch.randn(2, 3, 32, 32))['pooled']
    assert pred.shape == target.shape == (2, 39)
    x = torch.randn(2, 3, 32, 32)
    model.zero_grad()
    model.loss_module(*model._pairs(x)['pooled']).backward()
    # channels beyond 512 (indeed beyond the rank) receive no gradient
    grad = model.backbone.layer4[-1].conv3.weight.grad
    assert grad is not None and grad.shape[0] == 2048
    assert (grad[512:] == 0).all() and grad[:512].abs().sum() > 0


def test_kdep_meta_describes_student_and_teacher(r34_teacher):
    """What checkpoints record (``meta['kdep']``): the student, both taps
    (the teacher's inside its description) and the alignment."""
    model = build_kdep(r34_teacher, teacher_tap=dict(module='layer4'))
    meta = model.kdep_meta()
    assert set(meta) == {'student', 'student_tap', 'teacher', 'align'}
    assert meta['student'] == dict(
        type='ResNet', depth=18, zero_init_residual=False)
    assert meta['student_tap'] == model.student_tap.describe()
    assert meta['student_tap'].startswith('layer4.1.relu:input')
    assert meta['teacher'] is model.teacher_meta
    assert meta['teacher']['tap'] == 'layer4:output[call=-1]:pool=avg'
    assert meta['align'] == 'SVDPTSAlignment'
