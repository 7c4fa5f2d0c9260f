"""Pre-activation taps equal a hand computation; gradients reach the net."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from kdep_mm.models.taps import build_tap


def _hand_resnet(net, x):
    """The last block's ``out + identity`` before its final ReLU, pooled."""
    for name in ('conv1', 'norm1', 'relu', 'maxpool'):
        x = getattr(net, name)(x)
    for stage_name in net.res_layers[:-1]:
        x = getattr(net, stage_name)(x)
    stage = getattr(net, net.res_layers[-1])
    blocks = list(stage)
    for block in blocks[:-1]:
        x = block(x)
    block = blocks[-1]
    identity = x if block.downsample is None else block.downsample(x)
    out = F.relu(block.norm1(block.conv1(x)))
    if hasattr(block, 'conv3'):  # Bottleneck
        out = F.relu(block.norm2(block.conv2(out)))
        out = block.norm3(block.conv3(out))
    else:
        out = block.norm2(block.conv2(out))
    return (out + identity).mean(dim=(2, 3))


@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_tap(depth):
    torch.manual_seed(0)
    net = MODELS.build(
        dict(type='ResNet', depth=depth, zero_init_residual=False))
    net.eval()  # (mmpretrain's ResNet.train() returns None: no chaining)
    tap = build_tap(net)
    x = torch.randn(2, 3, 64, 64)
    net(x)
    feat = tap.pop()
    with torch.no_grad():
        expected = _hand_resnet(net, x)
    torch.testing.assert_close(feat, expected)
    assert feat.shape == (2, 512 if depth == 18 else 2048)
    assert (feat < 0).any(), 'a pre-activation feature has negative values'


def test_mobilenet_v2_tap():
    torch.manual_seed(0)
    net = MODELS.build(dict(type='MobileNetV2', widen_factor=1.0))
    net.eval()
    tap = build_tap(net)
    x = torch.randn(2, 3, 64, 64)
    net(x)
    feat = tap.pop()
    with torch.no_grad():
        h = net.conv1(x)
        assert net.layers[-1] == 'conv2'
        for name in net.layers[:-1]:
            h = getattr(net, name)(h)
        expected = net.conv2.bn(net.conv2.conv(h)).mean(dim=(2, 3))
    torch.testing.assert_close(feat, expected)
    assert feat.shape == (2, 1280) and (feat < 0).any()


def test_tap_gradients_flow_to_the_network():
    net = MODELS.build(dict(type='ResNet', depth=18))
    net.train()
    tap = build_tap(net)
    net(torch.randn(2, 3, 32, 32))
    tap.pop().pow(2).sum().backward()
    assert net.conv1.weight.grad is not None
    assert net.conv1.weight.grad.abs().sum() > 0


def test_named_tap_and_unknown_tap():
    net = MODELS.build(dict(type='ResNet', depth=18))
    net.eval()
    tap = build_tap(net, dict(module='layer3', hook='output'))
    net(torch.randn(1, 3, 32, 32))
    assert tap.pop().shape == (1, 256)
    with pytest.raises(ValueError, match='does not exist'):
        build_tap(net, dict(module='layer9.relu'))
    vit = MODELS.build(dict(type='ConvMixer', arch='768/32'))
    with pytest.raises(ValueError, match='no built-in'):
        build_tap(vit)


def test_unknown_tap_point(tiny_setup):
    """A tap point that does not exist, on either side, is named when the
    distiller is built."""

    def build_kdep(**kwargs):
        return MODELS.build(
            dict(
                type='KDEP',
                backbone=dict(type='ResNet', depth=18),
                teacher=dict(
                    model=dict(type='ResNet', depth=18),
                    checkpoint=tiny_setup['teacher']),
                probe_size=32,
                **kwargs))

    with pytest.raises(ValueError, match="tap point 'layer9.0.relu'"):
        build_kdep(teacher_tap=dict(module='layer9.0.relu'))
    with pytest.raises(ValueError, match="tap point 'stem.bogus'"):
        build_kdep(student_tap='stem.bogus')
