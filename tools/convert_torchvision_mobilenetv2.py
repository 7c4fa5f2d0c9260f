"""Convert torchvision MobileNetV2 weights into mmpretrain's key layout.

Usage::

    python tools/convert_torchvision_mobilenetv2.py \\
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
import sys

import kdep_mm  # noqa: F401  (compat shims before mmpretrain / torchvision)
from kdep_mm.utils.convert import ConversionError, convert_mobilenet_v2_file


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
