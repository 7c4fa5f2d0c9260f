"""Convert torchvision MobileNetV2 weights into mmpretrain's key layout.

Usage::

    python tools/model_converters/mobilenetv2_torchvision.py \\
        mobilenet_v2-b0353104.pth work_dirs/teachers/mobilenet-v2_in1k.pth

The output holds ``state_dict`` (keys of mmpretrain's
``ImageClassifier(MobileNetV2(widen_factor=1.0), GlobalAveragePooling,
LinearClsHead(1000, 1280))``, as in ``mobilenet-v2_8xb32_in1k.py``) and a
small ``meta``; it loads with ``torch.load(..., weights_only=True)`` and as a
KDEP teacher or a downstream backbone with ``prefix='backbone.'``.

Every source tensor must be used exactly once and every target key filled;
otherwise the conversion stops with a list of what did not fit and writes
nothing. With torchvision importable, the converted model's logits are also
checked against torchvision's own model on a random input.
"""
import argparse
import copy
import os.path as osp
import sys
from collections import OrderedDict
from typing import Mapping, Optional, Sequence, Tuple

import torch

from kdep_mm.utils.checkpoint import load_state_dict_strict, load_weights
from kdep_mm.utils.fileio import sha256_file, torch_save_atomic
from kdep_mm.utils.misc import IMAGENET_MEAN, IMAGENET_STD, build_mmpretrain
from kdep_mm.version import __version__

try:  # run as a script (tools/model_converters/ is on sys.path) or a module
    from strict_map import (BN_KEYS, CONV_KEYS, LINEAR_KEYS, ConversionError,
                            convert_state_dict, state_dict_of, strip_prefix)
except ImportError:
    from tools.model_converters.strict_map import (BN_KEYS, CONV_KEYS,
                                                   LINEAR_KEYS,
                                                   ConversionError,
                                                   convert_state_dict,
                                                   state_dict_of, strip_prefix)

#: MobileNetV2's inverted-residual stages (expand ratio, channels, blocks,
#: stride), shared by torchvision and mmpretrain.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                         (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320,
                                                                        1, 1))


def mobilenet_v2_module_map(
        settings: Sequence[Tuple[int, int, int, int]] = MOBILENET_V2_SETTINGS,
        with_head: bool = True
) -> 'OrderedDict[str, Tuple[str, Tuple[str, ...]]]':
    """Module map from torchvision's MobileNetV2 to mmpretrain's.

    torchvision: ``features.0`` (stem conv-bn-relu6), ``features.1..17``
    (inverted residuals, ``conv.*``), ``features.18`` (1x1 conv-bn-relu6 to
    1280 channels), ``classifier.1`` (linear). mmpretrain: ``backbone.conv1``,
    ``backbone.layer{1..7}.{j}.conv.{k}.{conv,bn}``, ``backbone.conv2``,
    ``head.fc`` (``ImageClassifier`` with ``GlobalAveragePooling`` and
    ``LinearClsHead``).

    Args:
        settings (Sequence[tuple]): ``(expand_ratio, channels, num_blocks,
            stride)`` per stage. Defaults to MobileNetV2's.
        with_head (bool): Map the classifier to ``head.fc`` too.

    Returns:
        OrderedDict: ``source module -> (target module, tensor names)``.
    """
    rules = OrderedDict()
    rules['features.0.0'] = ('backbone.conv1.conv', CONV_KEYS)
    rules['features.0.1'] = ('backbone.conv1.bn', BN_KEYS)
    idx = 1
    for stage, (expand, _, blocks, _) in enumerate(settings, 1):
        for j in range(blocks):
            src = f'features.{idx}.conv'
            dst = f'backbone.layer{stage}.{j}.conv'
            if expand == 1:  # depthwise conv-bn-relu6, then 1x1 conv, bn
                pairs = [('0.0', '0.conv', CONV_KEYS),
                         ('0.1', '0.bn', BN_KEYS), ('1', '1.conv', CONV_KEYS),
                         ('2', '1.bn', BN_KEYS)]
            else:  # expand conv-bn-relu6, depthwise conv-bn-relu6, conv, bn
                pairs = [
                    ('0.0', '0.conv', CONV_KEYS), ('0.1', '0.bn', BN_KEYS),
                    ('1.0', '1.conv', CONV_KEYS), ('1.1', '1.bn', BN_KEYS),
                    ('2', '2.conv', CONV_KEYS), ('3', '2.bn', BN_KEYS)
                ]
            for s, d, names in pairs:
                rules[f'{src}.{s}'] = (f'{dst}.{d}', names)
            idx += 1
    rules[f'features.{idx}.0'] = ('backbone.conv2.conv', CONV_KEYS)
    rules[f'features.{idx}.1'] = ('backbone.conv2.bn', BN_KEYS)
    if with_head:
        rules['classifier.1'] = ('head.fc', LINEAR_KEYS)
    return rules


def convert_torchvision_mobilenet_v2(
        state: Mapping[str, torch.Tensor],
        target: Optional[Mapping[str, torch.Tensor]] = None,
        with_head: bool = True,
        source: str = 'source state dict') -> 'OrderedDict[str, torch.Tensor]':
    """torchvision MobileNetV2 (width 1.0) -> mmpretrain ``ImageClassifier``.

    The target is ``ImageClassifier(backbone=MobileNetV2(widen_factor=1.0),
    neck=GlobalAveragePooling, head=LinearClsHead(1000, 1280))``, as in
    mmpretrain's ``mobilenet-v2_8xb32_in1k.py``.

    Args:
        state (Mapping[str, Tensor]): torchvision's state dict (keys
            ``features.*`` and ``classifier.1.*``; a ``module.`` prefix
            from DataParallel is stripped).
        target (Mapping[str, Tensor], optional): The target model's state
            dict for an exact key / shape check.
        with_head (bool): Convert the classifier too. If False, the
            source's ``classifier.*`` tensors are dropped on purpose and only
            ``backbone.*`` keys are produced.
        source (str): Named in error messages.

    Returns:
        OrderedDict: mmpretrain keys -> tensors.
    """
    state = OrderedDict(
        (k[7:] if k.startswith('module.') else k, v) for k, v in state.items())
    return convert_state_dict(
        state,
        mobilenet_v2_module_map(with_head=with_head),
        target=target,
        ignore_source=() if with_head else ('classifier.', ),
        source=source)


#: mmpretrain's ImageNet MobileNetV2 classifier (``mobilenet-v2_8xb32_in1k``),
#: the target layout of :func:`convert_torchvision_mobilenet_v2`.
MOBILENET_V2_CLASSIFIER = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV2', widen_factor=1.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)),
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=1000,
        mean=list(IMAGENET_MEAN),
        std=list(IMAGENET_STD),
        to_rgb=True))


def build_mobilenet_v2_classifier() -> torch.nn.Module:
    """Build :data:`MOBILENET_V2_CLASSIFIER` with mmpretrain (eval mode)."""
    return build_mmpretrain(copy.deepcopy(MOBILENET_V2_CLASSIFIER)).eval()


def torchvision_mobilenet_v2_logits(state: Mapping[str, torch.Tensor],
                                    x: torch.Tensor) -> Optional[torch.Tensor]:
    """Logits of torchvision's own MobileNetV2 with ``state`` on ``x``.

    The reference for the output-equality check. Returns None when
    torchvision cannot be imported (it is optional for the conversion).
    """
    try:
        from torchvision.models import mobilenet_v2
    except Exception:  # noqa: BLE001  (any import failure: no reference)
        return None
    ref = mobilenet_v2(num_classes=state['classifier.1.weight'].shape[0])
    ref.load_state_dict(state, strict=True)
    with torch.no_grad():
        return ref.eval()(x)


def convert_mobilenet_v2_file(src: str,
                              dst: str,
                              with_head: bool = True,
                              check_reference: bool = True,
                              logger=print) -> dict:
    """Convert a torchvision MobileNetV2 file into an mmpretrain file.

    The source is read weights-only; the result is loaded strictly into a
    freshly built mmpretrain model (every key and shape must match), and,
    if ``check_reference`` and torchvision is importable, that model's
    logits on a random input must equal torchvision's own model's logits
    with the original weights.

    Args:
        src (str): The torchvision-layout file.
        dst (str): Where to write ``{'state_dict': ..., 'meta': ...}``
            (plain tensors and strings: loadable with ``weights_only=True``).
        with_head (bool): Keep the 1000-class classifier (``head.fc``).
        check_reference (bool): Run the output-equality check.
        logger (callable): Receives progress lines.

    Returns:
        dict: The ``meta`` written into the file.
    """
    state = state_dict_of(load_weights(src))
    model = build_mobilenet_v2_classifier()
    target = model.state_dict()
    if not with_head:
        target = OrderedDict(
            (k, v) for k, v in target.items() if k.startswith('backbone.'))
    out = convert_torchvision_mobilenet_v2(
        state, target=target, with_head=with_head, source=src)
    if with_head:
        load_state_dict_strict(model, out, source=src)
    else:
        load_state_dict_strict(
            model.backbone, strip_prefix(out, 'backbone.'), source=src)
    max_diff = None
    if check_reference and with_head:
        x = torch.randn(
            2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        ref = torchvision_mobilenet_v2_logits(state, x)
        if ref is None:
            logger('torchvision is not importable: output check skipped')
        else:
            with torch.no_grad():
                got = model(x, mode='tensor')
            max_diff = float((got - ref).abs().max())
            if not torch.allclose(got, ref, rtol=1e-4, atol=1e-5):
                raise ConversionError(
                    f'{src}: converted model output differs from '
                    f"torchvision's (max abs diff {max_diff:.3g})")
            logger(f'output check: max |mmpretrain - torchvision| = '
                   f'{max_diff:.3g} on a random 2x3x224x224 input')
    meta = dict(
        source=osp.basename(src),
        source_sha256=sha256_file(src),
        source_layout='torchvision.models.mobilenet_v2',
        layout='mmpretrain ImageClassifier(MobileNetV2(widen_factor=1.0), '
        'GlobalAveragePooling, LinearClsHead(1000, 1280))'
        if with_head else 'mmpretrain MobileNetV2(widen_factor=1.0) as '
        "'backbone.*'",
        num_tensors=len(out),
        converted_by=f'kdep_mm {__version__} '
        'tools/model_converters/mobilenetv2_torchvision.py')
    if max_diff is not None:
        meta['max_abs_logit_diff_vs_source'] = max_diff
    torch_save_atomic(dict(state_dict=out, meta=meta), dst)
    logger(f'wrote {len(out)} tensors to {dst}')
    return meta


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert torchvision MobileNetV2 weights to mmpretrain')
    parser.add_argument('src', help='torchvision-layout .pth file')
    parser.add_argument('dst', help='output .pth file (mmpretrain layout)')
    parser.add_argument(
        '--backbone-only',
        action='store_true',
        help="drop the ImageNet classifier; write only 'backbone.*' keys")
    parser.add_argument(
        '--no-check',
        action='store_true',
        help='skip the output-equality check against torchvision')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert_mobilenet_v2_file(
            args.src,
            args.dst,
            with_head=not args.backbone_only,
            check_reference=not args.no_check)
    except (ConversionError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
