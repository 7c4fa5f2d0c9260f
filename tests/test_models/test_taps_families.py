"""Built-in taps of the backbone families people distil from today
(small variants, random weights): each tap equals a hand computation of the
feature that feeds the family's classification head."""
import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from kdep_mm.models.taps import build_tap, default_tap_cfg

X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _build(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        net = MODELS.build(cfg)
    net.eval()  # some backbones' train() returns None
    return net


def _tapped(net):
    tap = build_tap(net)
    with torch.no_grad():
        out = net(X)
    return tap.pop(), out


@pytest.mark.parametrize('cfg', [
    dict(type='ConvNeXt', arch='atto'),
    dict(
        type='VisionTransformer', arch='deit-tiny', img_size=64,
        patch_size=16),
    dict(
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=64,
        patch_size=16,
        out_type='avg_featmap'),
])
def test_tap_is_the_head_feature_the_backbone_returns(cfg):
    """ConvNeXt (normalised pooled feature) and ViT (class token after the
    final norm; normalised patch-token mean): the backbone's own pooled
    output is the tapped feature."""
    feat, out = _tapped(_build(cfg))
    assert out[-1].dim() == 2
    torch.testing.assert_close(feat, out[-1])


def test_swin_tap_is_the_mean_of_normalised_tokens():
    feat, out = _tapped(
        _build(
            dict(
                type='SwinTransformer',
                arch='tiny',
                img_size=64,
                pad_small_map=True)))
    torch.testing.assert_close(feat, out[-1].mean(dim=(2, 3)))


@pytest.mark.parametrize('cfg', [
    dict(type='EfficientNet', arch='b0'),
    dict(type='MobileNetV3', arch='small'),
])
def test_cnn_tap_is_the_last_conv_before_its_activation(cfg):
    net = _build(cfg)
    feat, out = _tapped(net)
    names = [f'layers.{i}' for i in range(len(net.layers))] \
        if cfg['type'] == 'EfficientNet' else list(net.layers)
    with torch.no_grad():
        x = X
        for name in names[:-1]:
            x = net.get_submodule(name)(x)
        last = net.get_submodule(names[-1])
        pre = last.bn(last.conv(x))
        # the activation comes after the tapped point
        torch.testing.assert_close(last.activate(pre), out[-1])
    torch.testing.assert_close(feat, pre.mean(dim=(2, 3)))
    # and differs from the activated feature (relative to its scale: random
    # weights give small values)
    activated = out[-1].mean(dim=(2, 3))
    assert (feat - activated).abs().max() > 1e-2 * feat.abs().max()


def test_regnet_uses_the_resnet_rule():
    net = _build(dict(type='RegNet', arch='regnetx_400mf'))
    cfg = default_tap_cfg(net)
    assert cfg['module'] == f'layer4.{len(net.layer4) - 1}.relu'
    assert cfg['hook'] == 'input'
    feat, out = _tapped(net)
    assert feat.shape == (2, out[-1].shape[1])


@pytest.mark.parametrize('teacher', [
    dict(type='SwinTransformer', arch='tiny', img_size=64, pad_small_map=True),
    dict(type='EfficientNet', arch='b0'),
])
def test_kdep_trains_from_the_new_families(teacher, tmp_path):
    """A few KDEP steps onto a Swin (768-d) and an EfficientNet (1280-d)
    teacher through their built-in taps: finite, falling loss."""
    from mmengine.optim import OptimWrapper

    from tests.helpers.datagen import save_backbone
    from tests.helpers.tiny import build_kdep, fill_basis
    ckpt = save_backbone(teacher, str(tmp_path / 'teacher.pth'))
    model = build_kdep(dict(model=teacher, checkpoint=ckpt), probe_size=64)
    with pytest.warns(UserWarning, match='numerical rank'):
        fill_basis(model, n=24, size=64)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05))
    model.train()
    data = dict(inputs=torch.randint(0, 255, (8, 3, 64, 64)).float())
    losses = [model.train_step(data, wrapper)['loss'].item() for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses))), losses
    assert losses[-1] < losses[0], losses


def test_a_vit_teacher_narrower_than_the_student_distils_192_channels(
        tmp_path):
    """deit-tiny's 192-d class token and a 512-d ResNet-18: the student's
    first 192 channels get targets, the warning names the other 320."""
    from tests.helpers.datagen import save_backbone
    from tests.helpers.tiny import build_kdep
    vit = dict(
        type='VisionTransformer', arch='deit-tiny', img_size=64, patch_size=16)
    ckpt = save_backbone(vit, str(tmp_path / 'vit.pth'))
    with pytest.warns(
            UserWarning,
            match=r'512 channels.*only 192.*'
            r'channels 192\.\.511 get no target'):
        model = build_kdep(dict(model=vit, checkpoint=ckpt), probe_size=64)
    assert model.align.k == 192


@pytest.mark.parametrize('teacher, width', [
    ('vit-b-p14-dinov2', 768),
    ('vit-l-p14-dinov2', 1024),
    ('vit-b-p16-clip', 768),
    ('swin-b', 1024),
    ('convnext-b', 1024),
])
@pytest.mark.parametrize('student', ['r18', 'mbv2'])
def test_modern_teacher_configs_tap_their_head_feature(teacher, width,
                                                       student):
    """The ViT / Swin / ConvNeXt teacher configs for real users: the
    teacher architecture builds (random weights: the model-zoo files are
    not downloaded here), its built-in tap gives the documented width at
    224 px; the ResNet-18 student (512-d) fits under it, the MobileNetV2
    (1280-d) distils its first ``width`` channels."""
    name = f'kdep_{teacher}-{student}_4xb128-90e_in1k-10pct.py'
    import os.path as osp

    from mmengine.config import Config

    from tests.helpers.tiny import ROOT
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'kdep', name))
    assert cfg.model.teacher.checkpoint.startswith('https://download.')
    net = _build(cfg.model.teacher.model)
    tap = build_tap(net)
    with torch.no_grad():
        net(torch.randn(1, 3, 224, 224))
    assert tap.pop().shape == (1, width)
    if student == 'r18':
        assert cfg.model.backbone.depth == 18 and width >= 512
    else:
        assert cfg.model.backbone.type == 'MobileNetV2' and width < 1280
        assert cfg.optim_wrapper.optimizer.lr == 0.1
