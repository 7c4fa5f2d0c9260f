"""tools/model_converters/efficientnet_lite_timm.py: the source layout
round-trips exactly into timm's tf_efficientnet_lite0 inside an mmpretrain
classifier; a file of another layout or a truncated one is refused."""
import pytest
import torch

from kdep_mm.utils.misc import build_mmpretrain
from tools.model_converters.efficientnet_lite_timm import (convert_lite_file,
                                                           lite_classifier_cfg,
                                                           lite_module_map)
from tools.model_converters.strict_map import ConversionError


def _source_file(path: str, drop: int = 0) -> tuple:
    """A random classifier and the same weights in the source layout
    (names inverted through the rules), minus ``drop`` tensors."""
    torch.manual_seed(0)
    model = build_mmpretrain(lite_classifier_cfg('lite0'))
    state = {
        k: (torch.randn_like(v) * 0.1 if v.is_floating_point() else v)
        for k, v in model.state_dict().items()
    }
    state = {
        k: (v.abs() + 0.5 if k.endswith('running_var') else v)
        for k, v in state.items()
    }
    # the rules need the source's block layout: expansion where timm has
    # an inverted residual (conv_pwl)
    fake = {}
    timm_model = model.backbone.timm_model
    flat = [b for stage in timm_model.blocks for b in stage]
    for i, block in enumerate(flat):
        fake[f'_blocks.{i}._depthwise_conv.weight'] = None
        if hasattr(block, 'conv_pwl'):
            fake[f'_blocks.{i}._expand_conv.weight'] = None
    rules = lite_module_map(fake, timm_model)
    source = {}
    for src_mod, (dst_mod, names) in rules.items():
        for name in names:
            source[f'{src_mod}.{name}'] = state[f'{dst_mod}.{name}']
    for key in list(source)[:drop]:
        source.pop(key)
    torch.save(source, path)
    return model, state


def test_round_trip_is_exact(tmp_path):
    src, dst = str(tmp_path / 'src.pth'), str(tmp_path / 'dst.pth')
    _, state = _source_file(src)
    meta = convert_lite_file(src, dst, 'lite0', logger=lambda s: None)
    out = torch.load(dst, weights_only=True)['state_dict']
    assert set(out) == set(state) and meta['num_tensors'] == len(state)
    assert all(torch.equal(out[k], state[k]) for k in state)
    assert 'tf_efficientnet_lite0' in meta['layout']


def test_a_truncated_or_foreign_file_is_refused(tmp_path):
    src = str(tmp_path / 'src.pth')
    _source_file(src, drop=2)
    with pytest.raises(ConversionError, match='not filled'):
        convert_lite_file(src, str(tmp_path / 'x.pth'), 'lite0')
    mbv2 = build_mmpretrain(dict(type='MobileNetV2'))
    torch.save(mbv2.state_dict(), src)
    with pytest.raises(ConversionError, match='0 blocks'):
        convert_lite_file(src, str(tmp_path / 'x.pth'), 'lite0')
    assert not (tmp_path / 'x.pth').exists()
