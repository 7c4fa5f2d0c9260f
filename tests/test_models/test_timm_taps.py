"""The registry's timm entry (``kdep_mm.models.taps.timm``): any timm model
wrapped in mmpretrain's ``TIMMBackbone``, checked directly on small timm
models with random weights (nothing downloaded, CPU, inputs of 64 px or
less).

CNNs are tapped at their *pre-activation* point (the activation applied to
the tapped map, then pooled, is timm's pre-logits feature, and the tap
itself takes negative values); heads that normalise after pooling
(ConvNeXt, ``fc_norm``) and ViT poolings give exactly the pre-logits
feature (a reference timm model with the same weights and its head pooling
intact computes it with ``forward_head(..., pre_logits=True)``). The map
candidates are timm's ``feature_info`` modules, at their pre-activation
points, with its channels and reductions as strides. Every BatchNorm's
affine parameters are randomised first: timm zero-initialises the last
BatchNorm of each residual block, which would make every residual sum
non-negative at initialisation.

The strict ``xfail`` cases are what ``TIMMBackbone``'s reset erases (the
module docstring says which tap they get and how to name one).
"""
import pytest
import torch

from kdep_mm.models.taps import (FeatureTap, map_tap, map_tap_candidates,
                                 measure_strides, pooled_tap_cfg)
from kdep_mm.utils.misc import build_mmpretrain

timm = pytest.importorskip('timm')

VIT = 'vit_tiny_patch16_224'


def _backbone(model_name: str, **kwargs):
    """A ``TIMMBackbone`` with random weights (BatchNorm affine included),
    in eval mode."""
    torch.manual_seed(0)
    net = build_mmpretrain(
        dict(
            type='TIMMBackbone',
            model_name=model_name,
            pretrained=False,
            **kwargs))
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
            torch.nn.init.normal_(m.bias, 0.0, 0.5)
    net.eval()  # TIMMBackbone.train() returns None: no chaining
    return net


def _pre_logits(net, model_name: str, x: torch.Tensor, **kwargs):
    """The pre-logits feature of ``net``'s timm model: the same weights in
    a plain timm model whose head pooling ``TIMMBackbone`` did not
    remove."""
    ref = timm.create_model(
        model_name, pretrained=False, num_classes=0, **kwargs)
    missing, unexpected = ref.load_state_dict(
        net.timm_model.state_dict(), strict=False)
    assert not unexpected
    assert all(k.startswith('attn_pool.') for k in missing), missing
    ref.eval()
    with torch.no_grad():
        return ref.forward_head(ref.forward_features(x), pre_logits=True)


def _tapped(net, cfg: dict, x: torch.Tensor) -> torch.Tensor:
    tap = FeatureTap(**cfg).attach(net)
    with torch.no_grad():
        net(x)
    return tap.pop()


def _x(size: int) -> torch.Tensor:
    return torch.randn(
        2, 3, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    'model_name, act', [
        ('resnet18', 'layer4.1.act2'),
        ('resnet26', 'layer4.1.act3'),
        ('regnetx_002', 's4.b7.act3'),
        ('efficientnet_b0', 'bn2.act'),
        ('mobilenetv2_050', 'bn2.act'),
    ],
    ids=[
        'resnet-basic', 'resnet-bottleneck', 'regnet', 'efficientnet',
        'mobilenetv2'
    ])
def test_cnn_pooled_tap_is_the_pre_activation_point(model_name, act):
    """The input of the activation that makes the model's output, pooled:
    signed, and that activation per pixel then pooled is timm's
    pre-logits feature."""
    net = _backbone(model_name)
    cfg = pooled_tap_cfg(net)
    assert cfg == dict(
        module=f'timm_model.{act}', hook='input', pool='avg', call=-1)
    x = _x(64)
    fmap_tap = FeatureTap(**dict(cfg, pool='map')).attach(net)
    feat = _tapped(net, cfg, x)
    fmap = fmap_tap.pop()
    torch.testing.assert_close(feat, fmap.mean((2, 3)))
    assert (feat < 0).any() and (fmap < 0).any()
    with torch.no_grad():
        post = net.timm_model.get_submodule(act)(fmap.clone()).mean((2, 3))
    torch.testing.assert_close(post, _pre_logits(net, model_name, x))


def test_mobilenetv3_conv_head_after_the_pool():
    """MobileNetV3 pools, then ``conv_head`` (1x1, linear) and ``act2``:
    the tap (``act2``'s input, averaged) is ``conv_head`` of the average,
    so ``act2`` of the tap is the pre-logits feature."""
    net = _backbone('mobilenetv3_large_100')
    cfg = pooled_tap_cfg(net)
    assert cfg['module'] == 'timm_model.act2' and cfg['hook'] == 'input'
    x = _x(64)
    feat = _tapped(net, cfg, x)
    assert (feat < 0).any()
    with torch.no_grad():
        post = net.timm_model.act2(feat.clone())
    # equal up to float32 summation order (mean and 1x1 conv commute)
    torch.testing.assert_close(
        post,
        _pre_logits(net, 'mobilenetv3_large_100', x),
        rtol=1e-3,
        atol=1e-3)


@pytest.mark.parametrize(
    'model_name, kwargs, size', [
        ('convnext_atto', {}, 64),
        (VIT, dict(img_size=32, global_pool='avg'), 32),
        (VIT, dict(img_size=32), 32),
        (VIT,
         dict(
             img_size=32, class_token=False, global_pool='avg',
             fc_norm=False), 32),
        (VIT, dict(img_size=32, reg_tokens=4, global_pool='avg'), 32),
        ('deit_tiny_distilled_patch16_224', dict(img_size=32), 32),
    ],
    ids=[
        'convnext-head-norm', 'vit-fc-norm', 'vit-class-token',
        'vit-no-class-token', 'vit-registers-fc-norm', 'deit-distilled'
    ])
def test_pooled_tap_is_the_tensor_the_classifier_reads(model_name, kwargs,
                                                       size):
    """Heads that pool first (then ``head.norm`` / ``fc_norm``), ViT class
    tokens, token means without the prefix tokens, an already pooled
    head: the tap equals timm's pre-logits feature."""
    net = _backbone(model_name, **kwargs)
    x = _x(size)
    feat = _tapped(net, pooled_tap_cfg(net), x)
    torch.testing.assert_close(feat, _pre_logits(net, model_name, x, **kwargs))


@pytest.mark.parametrize('model_name, strides, modules', [
    ('resnet18', [2, 4, 8, 16, 32], [
        'act1', 'layer1.1.act2', 'layer2.1.act2', 'layer3.1.act2',
        'layer4.1.act2'
    ]),
    ('convnext_atto', [4, 8, 16, 32
                       ], ['stages.0', 'stages.1', 'stages.2', 'stages.3']),
    ('efficientnet_b0', [2, 4, 8, 16, 32, 32],
     ['blocks.0', 'blocks.1', 'blocks.2', 'blocks.4', 'blocks.6', 'bn2.act']),
])
def test_map_candidates_are_feature_info_at_pre_activation(
        model_name, strides, modules):
    """One map per ``feature_info`` entry, shallow to deep, at its
    pre-activation point (an activation's input where one makes the
    stage's output), whose measured stride and channels are timm's
    reduction and ``num_chs``; plus the EfficientNet family's ``bn2``."""
    net = _backbone(model_name)
    info = net.timm_model.feature_info
    cands = map_tap_candidates(net)
    assert [c['module'] for c in cands] == \
        [f'timm_model.{m}' for m in modules]
    assert all(c['pool'] == 'map' for c in cands)
    taps = [FeatureTap(**c).attach(net) for c in cands]
    found = measure_strides(net, taps, 64)
    assert [f['stride'] for f in found] == strides
    assert [f['channels'] for f in found[:len(info)]] == \
        [f['num_chs'] for f in info]
    assert not any(f['post_activation'] for f in found)


def test_token_maps_skip_every_prefix_token():
    """A ViT with register tokens: ``skip_tokens`` is the class token plus
    the 4 registers, so each block's map is exactly its patch tokens."""
    net = _backbone(VIT, img_size=32, reg_tokens=4)
    assert net.timm_model.num_prefix_tokens == 5
    cands = map_tap_candidates(net)
    assert len(cands) == 12 and {c['skip_tokens'] for c in cands} == {5}
    taps = [FeatureTap(**c).attach(net) for c in cands]
    found = measure_strides(net, taps, 32)
    assert {f['stride'] for f in found} == {16}
    assert {f['grid'] for f in found} == {(2, 2)}
    x = _x(32)
    blocks = net.timm_model.blocks
    with torch.no_grad():
        net(x)
        fmap = taps[3].pop()
        m = net.timm_model
        tokens = blocks[:4](
            m.norm_pre(m.patch_drop(m._pos_embed(m.patch_embed(x)))))
    assert tokens.shape[1] == 5 + 4
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), tokens[:, 5:])


def test_maps_inside_a_classifier_take_the_backbone_prefix():
    """Inside an ``ImageClassifier`` the candidates are under
    ``backbone.`` and measure the same strides; ``map_tap`` picks the
    stride-8 stage and names the strides it has otherwise."""
    clf = build_mmpretrain(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='TIMMBackbone', model_name='resnet18', pretrained=False),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=512)))
    cands = map_tap_candidates(clf)
    assert all(c['module'].startswith('backbone.timm_model.') for c in cands)
    taps = [FeatureTap(**c).attach(clf) for c in cands]
    assert [f['stride'] for f in measure_strides(clf, taps, 64)] == \
        [2, 4, 8, 16, 32]
    for tap in taps:
        tap.remove()
    tap, info = map_tap(clf, None, 8, 64, True, 'teacher')
    assert tap.module == 'backbone.timm_model.layer2.1.act2'
    assert info == dict(channels=128, stride=8, grid=(8, 8))
    with pytest.raises(ValueError, match=r'strides \[2, 4, 8, 16, 32\]'):
        map_tap(clf, None, 64, 64, True, 'teacher')


@pytest.mark.xfail(
    strict=True,
    reason="TIMMBackbone's reset_classifier(0, '') erases what tells "
    'these heads apart (global_pool, attn_pool): name the tap')
@pytest.mark.parametrize(
    'kwargs', [
        dict(img_size=32, global_pool='avg', fc_norm=False),
        dict(img_size=32, class_token=False, global_pool='map'),
    ],
    ids=['vit-class-token-but-mean-pooled', 'vit-attention-pool'])
def test_known_gaps_after_the_wrappers_reset(kwargs):
    net = _backbone(VIT, **kwargs)
    x = _x(32)
    torch.testing.assert_close(
        _tapped(net, pooled_tap_cfg(net), x),
        _pre_logits(net, VIT, x, **kwargs))
