"""The built-in map taps of each family, found by stride with one dry run;
ViT tokens as a map; the deepest map of a dilated ResNet."""
import pytest
import torch

from kdep_mm.models.taps import (FeatureTap, map_tap_candidates,
                                 measure_strides, pick_by_stride)
from kdep_mm.utils.misc import build_mmpretrain


def _found(cfg: dict, size: int = 64):
    size = cfg.get('img_size', size) if cfg['type'] == 'SwinTransformer' \
        else size
    net = build_mmpretrain(cfg)
    taps = [FeatureTap(**c).attach(net) for c in map_tap_candidates(net)]
    return net, taps, measure_strides(net, taps, size)


@pytest.mark.parametrize('cfg, strides, channels', [
    (dict(type='ResNet', depth=18), [4, 8, 16, 32], [64, 128, 256, 512]),
    (dict(type='MobileNetV2', widen_factor=1.0), [2, 4, 8, 16, 16, 32, 32, 32],
     [16, 24, 32, 64, 96, 160, 320, 1280]),
    (dict(type='ConvNeXt', arch='atto'), [4, 8, 16, 32], [40, 80, 160, 320]),
    (dict(
        type='VisionTransformer', arch='deit-tiny', img_size=64,
        patch_size=16), [16], [192]),
    (dict(
        type='SwinTransformer',
        arch='tiny',
        img_size=224,
        out_indices=(0, 1, 2, 3)), [4, 8, 16, 32], [96, 192, 384, 768]),
])
def test_candidates_of_each_family(cfg, strides, channels):
    _, _, found = _found(cfg)
    assert [f['stride'] for f in found] == strides
    assert [f['channels'] for f in found] == channels


def test_the_deepest_map_at_a_stride_is_chosen():
    _, taps, found = _found(dict(type='MobileNetV2', widen_factor=1.0))
    assert taps[pick_by_stride(found, 16, True)].module == 'layer5'
    assert taps[pick_by_stride(found, 32, True)].module == 'conv2.bn'
    assert pick_by_stride(found, 64, True) is None
    # not exact (a teacher): the nearest stride, deeper of a tie
    assert taps[pick_by_stride(found, 64, False)].module == 'conv2.bn'
    # a dilated ResNet (mmseg's output stride 8): C5 is at stride 8
    _, taps, found = _found(
        dict(
            type='ResNet',
            depth=18,
            strides=(1, 2, 1, 1),
            dilations=(1, 1, 2, 4)))
    assert [f['stride'] for f in found] == [4, 8, 8, 8]
    assert taps[pick_by_stride(found, 8, True)].module == 'layer4.1.relu'


def test_a_resnet_map_is_the_pre_activation_sum():
    """The recorded map is ``out + identity`` (it has negative values),
    unchanged by the in-place ReLU that runs after the tap."""
    net, taps, _ = _found(dict(type='ResNet', depth=18))
    net.eval()
    for t in taps:
        t.reset()
    out = net(torch.randn(2, 3, 64, 64))[-1]
    fmap = taps[-1].pop()
    assert (fmap < 0).any() and (out >= 0).all()
    torch.testing.assert_close(fmap.clamp(min=0), out)


def test_tokens_become_a_square_map_or_a_clear_error():
    tap = FeatureTap('', pool='map', skip_tokens=1)
    tokens = torch.randn(2, 1 + 6, 5)
    with pytest.raises(ValueError, match='6 tokens .* not a square'):
        tap._record(tokens)
    tokens = torch.randn(2, 1 + 9, 5)
    tap._record(tokens)
    fmap = tap.pop()
    assert fmap.shape == (2, 5, 3, 3)
    assert torch.equal(fmap[1, :, 2, 0], tokens[1, 1 + 6])  # row 2, col 0
