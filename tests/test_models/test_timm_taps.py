"""``kdep_mm.models.timm_taps``: the built-in taps of a timm model wrapped in
mmpretrain's ``TIMMBackbone``, checked directly on small timm models with
random weights (nothing downloaded, CPU, inputs of 64 px or less).

The pooled tap must be the model's own pre-logits feature (a reference timm
model with the same weights and its head pooling intact gives it with
``forward_head(..., pre_logits=True)``), the EfficientNet family's the same
point before the head activation, and heads that work after the pooling are
refused. The map candidates must be timm's ``feature_info`` modules with its
channels and reductions as strides measured by a dry run, on the backbone
alone and inside a classifier (the ``backbone.`` prefix). The teacher-level
behaviour (KDEP steps, the hub path, the ViT class token and its stride-16
grid) is in ``test_timm_teacher.py``.

The strict ``xfail`` cases are heads the module serves with a pooled tap that
is *not* their pre-logits feature (see each reason); they pass once the
module refuses them or taps the right point.
"""
import pytest
import torch

from kdep_mm.models.dense_taps import measure_strides
from kdep_mm.models.taps import FeatureTap, build_tap
from kdep_mm.models.terms import map_tap
from kdep_mm.models.timm_taps import timm_map_candidates, timm_tap_cfg
from kdep_mm.utils.misc import build_mmpretrain

timm = pytest.importorskip('timm')

VIT = 'vit_tiny_patch16_224'


def _backbone(model_name: str, **kwargs):
    """A ``TIMMBackbone`` with random weights, in eval mode."""
    torch.manual_seed(0)
    net = build_mmpretrain(
        dict(
            type='TIMMBackbone',
            model_name=model_name,
            pretrained=False,
            **kwargs))
    net.eval()  # TIMMBackbone.train() returns None: no chaining
    return net


def _pre_logits(net, model_name: str, x: torch.Tensor, **kwargs):
    """The pre-logits feature of ``net``'s timm model: the same weights in
    a plain timm model whose head pooling ``TIMMBackbone`` did not remove.
    """
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
    'model_name, kwargs, size, pool', [
        ('resnet18', {}, 64, 'avg'),
        (VIT, dict(img_size=32), 32, 'token0'),
        (VIT,
         dict(
             img_size=32, class_token=False, global_pool='avg',
             fc_norm=False), 32, 'avg'),
    ],
    ids=['resnet', 'vit-class-token', 'vit-no-class-token'])
def test_pooled_tap_is_the_pre_logits_feature(model_name, kwargs, size, pool):
    """A CNN's map averaged; a ViT's class token, or the token mean for a
    ViT without one: equal to what timm feeds its classifier."""
    net = _backbone(model_name, **kwargs)
    cfg = timm_tap_cfg(net)
    assert cfg == dict(module='', hook='output', call=-1, pool=pool)
    x = _x(size)
    feat = _tapped(net, cfg, x)
    torch.testing.assert_close(feat, _pre_logits(net, model_name, x, **kwargs))


@pytest.mark.parametrize('model_name', ['efficientnet_b0', 'mobilenetv2_050'])
def test_efficientnet_family_taps_bn2_before_its_activation(model_name):
    """``conv_head`` + ``bn2`` (a BatchNormAct2d): the input of ``bn2.act``
    pooled; ``bn2.act`` of that map, pooled, is the pre-logits feature, so
    the tap is the same point one activation earlier (negatives kept)."""
    net = _backbone(model_name)
    cfg = timm_tap_cfg(net)
    assert cfg == dict(module='timm_model.bn2.act', hook='input', call=-1)
    x = _x(64)
    fmap_tap = FeatureTap(**dict(cfg, pool='map')).attach(net)
    feat = _tapped(net, cfg, x)
    fmap = fmap_tap.pop()
    assert fmap.shape == (2, net.timm_model.num_features, 2, 2)
    torch.testing.assert_close(feat, fmap.mean((2, 3)))
    assert (feat < 0).any()
    with torch.no_grad():
        post = net.timm_model.bn2.act(fmap).mean((2, 3))
    torch.testing.assert_close(post, _pre_logits(net, model_name, x))
    assert not torch.allclose(feat, post)


@pytest.mark.parametrize(
    'model_name, kwargs', [
        ('convnext_atto', {}),
        (VIT, dict(img_size=32, global_pool='avg')),
    ],
    ids=['convnext-head-norm', 'vit-fc-norm'])
def test_heads_that_normalise_after_pooling_are_refused(model_name, kwargs):
    """ConvNeXt's ``head.norm`` and a mean-pooled ViT's ``fc_norm`` come
    after the pooling: no pooled tap, and ``build_tap`` asks for one;
    their maps are still offered."""
    net = _backbone(model_name, **kwargs)
    assert timm_tap_cfg(net) is None
    with pytest.raises(
            ValueError,
            match='no built-in pre-activation tap for '
            'TIMMBackbone; name one in the config'):
        build_tap(net)
    assert len(timm_map_candidates(net)) == len(net.timm_model.feature_info)


@pytest.mark.parametrize('model_name, strides, extra', [
    ('resnet18', [2, 4, 8, 16, 32], []),
    ('convnext_atto', [4, 8, 16, 32], []),
    ('efficientnet_b0', [2, 4, 8, 16, 32, 32], ['timm_model.bn2.act']),
])
def test_map_candidates_are_timms_feature_info(model_name, strides, extra):
    """One map per ``feature_info`` entry, shallow to deep, whose measured
    stride and channels are timm's reduction and ``num_chs`` (plus the
    pre-activation ``bn2`` map at stride 32 for the EfficientNet family).
    """
    net = _backbone(model_name)
    info = net.timm_model.feature_info
    cands = timm_map_candidates(net)
    assert [c['module'] for c in cands] == \
        [f"timm_model.{f['module']}" for f in info] + extra
    assert all(c['pool'] == 'map' for c in cands)
    assert all(c.get('skip_tokens', 0) == 0 for c in cands)
    taps = [FeatureTap(**c).attach(net) for c in cands]
    found = measure_strides(net, taps, 64)
    got = [f['stride'] for f in found]
    assert got == strides
    assert got == sorted(got)
    assert got[:len(info)] == [f['reduction'] for f in info]
    assert [f['channels'] for f in found[:len(info)]] == \
        [f['num_chs'] for f in info]
    assert all(f['grid'] == (64 // f['stride'], ) * 2 for f in found)
    if extra:
        assert found[-1]['channels'] == net.timm_model.num_features


def test_token_maps_skip_every_prefix_token():
    """A ViT with register tokens: ``skip_tokens`` is the class token plus
    the 4 registers, so each block's map is exactly its patch tokens."""
    net = _backbone(VIT, img_size=32, reg_tokens=4)
    assert net.timm_model.num_prefix_tokens == 5
    cands = timm_map_candidates(net)
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
    """The candidates are relative to the ``TIMMBackbone``: inside an
    ``ImageClassifier`` they are attached under ``backbone.`` (as
    ``terms.map_tap`` does) and measure the same strides; ``map_tap``
    picks the stride-8 stage and names the strides it has otherwise."""
    clf = build_mmpretrain(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='TIMMBackbone', model_name='resnet18', pretrained=False),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=512)))
    cands = timm_map_candidates(clf.backbone)
    taps = [
        FeatureTap(**dict(c, module='backbone.' + c['module'])).attach(clf)
        for c in cands
    ]
    found = measure_strides(clf, taps, 64)
    assert [f['stride'] for f in found] == [2, 4, 8, 16, 32]
    for tap in taps:
        tap.remove()
    tap, info = map_tap(clf, None, 8, 64, True, 'teacher')
    assert tap.module == 'backbone.timm_model.layer2'
    assert info == dict(channels=128, stride=8, grid=(8, 8))
    with pytest.raises(ValueError, match=r'strides \[2, 4, 8, 16, 32\]'):
        map_tap(clf, None, 64, 64, True, 'teacher')


@pytest.mark.xfail(
    strict=True,
    reason='timm_taps serves a pooled tap that '
    'is not the pre-logits feature for this head')
@pytest.mark.parametrize(
    'model_name, kwargs, size', [
        ('mobilenetv3_large_100', {}, 64),
        ('deit_tiny_distilled_patch16_224', dict(img_size=32), 32),
        (VIT, dict(img_size=32, global_pool='avg', fc_norm=False), 32),
        (VIT, dict(img_size=32, class_token=False, global_pool='map'), 32),
    ],
    ids=[
        'mobilenetv3-conv-head-after-pool', 'deit-distilled-already-pooled',
        'vit-class-token-but-mean-pooled', 'vit-attention-pool'
    ])
def test_known_gaps_pooled_tap_is_pre_logits_or_refused(
        model_name, kwargs, size):
    """Each head is either refused (no pooled tap) or tapped at its
    pre-logits feature. Fails today:

    * MobileNetV3 (GhostNet alike): ``conv_head`` and ``act2`` run after
      the pooling; TIMMBackbone applies them per pixel and the tap averages
      ``act2(conv_head(map))`` instead of ``act2(conv_head(mean(map)))``;
    * distilled DeiT: its head already returns the pooled (class + dist) /
      2 feature, (B, C); ``token0`` takes its first channel, (B,);
    * a ViT with a class token but mean pooling (``fc_norm=False``):
      TIMMBackbone's ``reset_classifier(0, '')`` sets ``global_pool`` to
      '', so the module always sees '' and picks the class token;
    * attention pooling (``global_pool='map'``, SigLIP): TIMMBackbone
      drops ``attn_pool``; the tap averages the tokens instead.
    """
    net = _backbone(model_name, **kwargs)
    cfg = timm_tap_cfg(net)
    if cfg is not None:
        x = _x(size)
        feat = _tapped(net, cfg, x)
        torch.testing.assert_close(feat,
                                   _pre_logits(net, model_name, x, **kwargs))
