"""The paper's baselines as options: parametric adaptor, logit KD."""
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS


def _step(model, n=3):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    data = dict(inputs=torch.randint(0, 255, (4, 3, 32, 32)).float())
    return [model.train_step(data, wrapper)['loss'].item() for _ in range(n)]


def test_parametric_alignment(r34_teacher):
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=dict(type='ResNet', depth=18),
            teacher=r34_teacher,
            align=dict(type='ParametricAlignment'),
            probe_size=32))
    keys = model.state_dict().keys()
    assert 'align.proj.weight' in keys and 'align.bn.weight' in keys
    assert model.align.proj.weight.shape == (512, 512)
    before = model.align.proj.weight.clone()
    assert all(torch.isfinite(torch.tensor(_step(model))))
    assert not torch.equal(model.align.proj.weight, before)  # it learns
    # The adaptor never reaches the backbone (what is exported downstream).
    assert not any(k.startswith('proj') for k in model.backbone.state_dict())


def test_logit_kd(tmp_path):
    cls_cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    teacher_net = MODELS.build(cls_cfg)
    path = str(tmp_path / 'cls.pth')
    torch.save(teacher_net.state_dict(), path)
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=dict(type='ResNet', depth=18),
            teacher=dict(model=cls_cfg, checkpoint=path),
            teacher_tap=dict(module='head.fc', hook='output', pool='none'),
            student_tap=dict(module='', hook='output', pool='avg'),
            align=dict(type='LogitKDAlignment'),
            loss=dict(type='KDEPLoss', mode='kl', loss_weight=1.0),
            probe_size=32))
    assert model.align.head.weight.shape == (10, 512)
    x = torch.randn(2, 3, 32, 32)
    teacher_net.eval()
    logits = teacher_net(x, mode='tensor')
    torch.testing.assert_close(model.extract_teacher_feat(x), logits)
    head, conv = model.align.head.weight.clone(), model.backbone.conv1.weight
    conv = conv.clone()
    losses = _step(model, n=2)
    assert all(loss > 0 for loss in losses)
    assert not torch.equal(model.align.head.weight, head)
    assert not torch.equal(model.backbone.conv1.weight, conv)
