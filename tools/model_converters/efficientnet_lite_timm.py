"""Convert EfficientNet-Lite weights (the ``efficientnet-lite-pytorch``
layout: ``_conv_stem``, ``_blocks.<i>``, ``_conv_head``, ``_fc``) into an
mmpretrain classifier around timm's ``tf_efficientnet_lite<n>``.

The target is ``ImageClassifier(TIMMBackbone('tf_efficientnet_lite<n>'),
GlobalAveragePooling, LinearClsHead(1000, 1280))``: timm's TF-ported
EfficientNet-Lite has the source's TF "same" padding, BatchNorm eps 1e-3,
ReLU6 and no squeeze-excitation, so the weights mean the same there. The
source's flat ``_blocks.<i>`` are timm's ``blocks.<stage>.<j>`` in order; a
block without expansion (the first stage) is timm's depthwise-separable
block (``conv_dw, bn1, conv_pw, bn2``), the others inverted residuals
(``conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3``). Every source tensor is used
once and every target key filled (:mod:`.strict_map`); if the source
package ``efficientnet_lite_pytorch`` is importable, the converted model's
logits must equal its own model's on a random input.

    python tools/model_converters/efficientnet_lite_timm.py \\
        efficientnet-lite2-9656183e.pth lite2_in1k.pth --variant lite2
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import torch

if __package__ in (None, ''):  # run as a script
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(__file__))))

from kdep_mm.utils.checkpoint import load_state_dict_strict  # noqa: E402
from kdep_mm.utils.checkpoint import load_weights
from kdep_mm.utils.fileio import sha256_file, torch_save_atomic  # noqa: E402
from kdep_mm.utils.misc import IMAGENET_STD  # noqa: E402
from kdep_mm.utils.misc import IMAGENET_MEAN, build_mmpretrain
from kdep_mm.version import __version__  # noqa: E402
from tools.model_converters.strict_map import BN_KEYS  # noqa: E402
from tools.model_converters.strict_map import (CONV_KEYS, LINEAR_KEYS,
                                               ConversionError,
                                               convert_state_dict,
                                               state_dict_of)

DS = dict(
    _depthwise_conv='conv_dw', _bn1='bn1', _project_conv='conv_pw', _bn2='bn2')
IR = dict(
    _expand_conv='conv_pw',
    _bn0='bn1',
    _depthwise_conv='conv_dw',
    _bn1='bn2',
    _project_conv='conv_pwl',
    _bn2='bn3')


def lite_classifier_cfg(variant: str = 'lite2') -> dict:
    """The mmpretrain classifier the converted file loads into."""
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='TIMMBackbone', model_name=f'tf_efficientnet_{variant}'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=1280),
        # ImageNet mean / std, as KDEP's students (the source package's
        # own example uses them; its top-5 on real photos is checked so)
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            mean=list(IMAGENET_MEAN),
            std=list(IMAGENET_STD),
            to_rgb=True))


def lite_module_map(state: Mapping[str, torch.Tensor],
                    target: torch.nn.Module) -> Dict[str, Tuple[str, tuple]]:
    """Source module -> (target module, tensor names), strictly ordered."""
    timm_blocks = [
        f'blocks.{s}.{j}' for s, stage in enumerate(target.blocks)
        for j in range(len(stage))
    ]
    pre = 'backbone.timm_model.'
    rules = OrderedDict()
    rules['_conv_stem'] = (pre + 'conv_stem', CONV_KEYS)
    rules['_bn0'] = (pre + 'bn1', BN_KEYS)
    n_src = len({k.split('.')[1] for k in state if k.startswith('_blocks.')})
    if n_src != len(timm_blocks):
        raise ConversionError(
            f'the source has {n_src} blocks, tf_efficientnet has '
            f'{len(timm_blocks)}: another EfficientNet variant (--variant)?')
    for i, dst in enumerate(timm_blocks):
        expand = f'_blocks.{i}._expand_conv.weight' in state
        for src_mod, dst_mod in (IR if expand else DS).items():
            keys = BN_KEYS if 'bn' in src_mod else CONV_KEYS
            rules[f'_blocks.{i}.{src_mod}'] = (f'{pre}{dst}.{dst_mod}', keys)
    rules['_conv_head'] = (pre + 'conv_head', CONV_KEYS)
    rules['_bn1'] = (pre + 'bn2', BN_KEYS)
    rules['_fc'] = ('head.fc', LINEAR_KEYS)
    return rules


def reference_logits(state: Mapping[str, torch.Tensor], variant: str,
                     x: torch.Tensor) -> Optional[torch.Tensor]:
    """Logits of the source package's own model, or None without it."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        return None
    ref = EfficientNet.from_name(f'efficientnet-{variant}')
    ref.load_state_dict(state, strict=True)
    with torch.no_grad():
        return ref.eval()(x)


def convert_lite_file(src: str,
                      dst: str,
                      variant: str = 'lite2',
                      logger=print) -> dict:
    """Convert ``src`` into ``dst`` (``{'state_dict', 'meta'}``); returns
    the meta. Raises :class:`ConversionError` on any mismatch."""
    state = state_dict_of(load_weights(src))
    model = build_mmpretrain(lite_classifier_cfg(variant)).eval()
    out = convert_state_dict(
        state,
        lite_module_map(state, model.backbone.timm_model),
        target=model.state_dict(),
        source=src)
    load_state_dict_strict(model, out, source=src)
    meta = dict(
        source=osp.basename(src),
        source_sha256=sha256_file(src),
        source_layout='efficientnet_lite_pytorch.EfficientNet',
        layout="mmpretrain ImageClassifier(TIMMBackbone("
        f"'tf_efficientnet_{variant}'), GlobalAveragePooling, "
        'LinearClsHead(1000, 1280))',
        num_tensors=len(out),
        converted_by=f'kdep_mm {__version__} '
        'tools/model_converters/efficientnet_lite_timm.py')
    # 260 px: the source pads statically for its 260-px input size
    x = torch.randn(2, 3, 260, 260, generator=torch.Generator().manual_seed(0))
    ref = reference_logits(state, variant, x)
    if ref is None:
        logger('efficientnet_lite_pytorch is not importable: output check '
               'skipped')
    else:
        with torch.no_grad():
            got = model(x, mode='tensor')
        diff = float((got - ref).abs().max())
        if not torch.allclose(got, ref, rtol=1e-4, atol=1e-4):
            raise ConversionError(f'{src}: converted logits differ from the '
                                  f'source model (max abs diff {diff:.3g})')
        meta['max_abs_logit_diff_vs_source'] = diff
        logger(f'output check: max |converted - source| = {diff:.3g} on a '
               'random 2x3x260x260 input')
    torch_save_atomic(dict(state_dict=out, meta=meta), dst)
    logger(f'wrote {len(out)} tensors to {dst}')
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('src', help='efficientnet-lite-pytorch .pth file')
    p.add_argument('dst', help='output .pth file (mmpretrain + timm layout)')
    p.add_argument('--variant', default='lite2', help='lite0 ... lite4')
    args = p.parse_args(argv)
    try:
        convert_lite_file(args.src, args.dst, args.variant)
    except (ConversionError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
