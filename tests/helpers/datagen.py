"""Generate tiny datasets and weight files (test-only, no downloads).

* :func:`make_image_folder`: a folder of unlabelled images (the KDEP pool).
* :func:`save_backbone`: an mmpretrain model with random weights saved as a
  file (a teacher, a student).
* :func:`make_kdep_checkpoint`: a KDEP pre-training checkpoint with random
  student weights, without running a pre-training.
* :func:`zero_tensor_bytes`: damage a saved tensor file the way a disk
  fault would.

The downstream datasets (COCO, VOC, Cityscapes, ...) are in
:mod:`tests.helpers.downstream_data`.
"""
import os
import os.path as osp
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from kdep_mm.utils.misc import IMAGENET_MEAN, build_mmpretrain

STUDENTS = dict(
    resnet18=dict(type='ResNet', depth=18),
    mobilenetv2=dict(type='MobileNetV2', widen_factor=1.0))


def random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random RGB image, ``h`` x ``w``."""
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_image(path: str, arr: np.ndarray) -> None:
    """Save ``arr`` as an image file, creating its folder."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path)


def make_image_folder(root: str,
                      num: int,
                      size: int = 48,
                      seed: int = 0,
                      nested: bool = True) -> str:
    """Write ``num`` random-texture JPEGs (unlabelled) under ``root``.

    ``nested``: in three sub-folders ``group{0,1,2}``, else all in ``root``.
    """
    import cv2
    rng = np.random.default_rng(seed)
    for i in range(num):
        sub = osp.join(root, f'group{i % 3}') if nested else root
        os.makedirs(sub, exist_ok=True)
        base = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        img = cv2.resize(base, (size, size), interpolation=cv2.INTER_LINEAR)
        noise = rng.integers(0, 40, img.shape, dtype=np.uint8)
        cv2.imwrite(osp.join(sub, f'img_{i:04d}.jpg'), img + noise)
    return root


def save_backbone(cfg: dict, path: str, seed: int = 0) -> str:
    """Build an mmpretrain model with random weights and save its state."""
    torch.manual_seed(seed)
    model = build_mmpretrain(cfg)
    model.init_weights()
    torch.save(model.state_dict(), path)
    return path


def make_kdep_checkpoint(
    path: str,
    student: str = 'resnet18',
    seed: int = 0,
    drop_keys: Sequence[str] = (),
    reshape_keys: Sequence[str] = ()
) -> dict:
    """Write a KDEP pre-training checkpoint with a random student.

    Args:
        path (str): Output file.
        student (str): ``'resnet18'`` or ``'mobilenetv2'``.
        seed (int): Seed of the random weights (not the default init, so
            equality checks downstream mean something).
        drop_keys (Sequence[str]): Backbone keys to leave out (a broken
            checkpoint).
        reshape_keys (Sequence[str]): Backbone keys given a wrong shape.

    Returns:
        dict: The student's state dict as written (keys without prefix).
    """
    from kdep_mm.utils.export import build_student
    torch.manual_seed(seed)
    cfg = dict(STUDENTS[student])
    net = build_student(cfg)
    state = {}
    for k, v in net.state_dict().items():
        if v.is_floating_point():
            v = (
                torch.rand_like(v) +
                0.5 if k.endswith('running_var') else torch.randn_like(v) *
                0.05)
        if k in reshape_keys:
            v = torch.zeros(*(s + 1 for s in v.shape))
        if k not in drop_keys:
            state[k] = v
    full = {f'backbone.{k}': v for k, v in state.items()}
    d_s = 512 if student == 'resnet18' else 1280
    full['align.mean'] = torch.zeros(2048)
    full['align.basis'] = torch.zeros(2048, d_s)
    full['data_preprocessor.mean'] = torch.tensor(IMAGENET_MEAN)
    # What KDEP.kdep_meta() records.
    meta = dict(
        epoch=1,
        iter=10,
        kdep=dict(
            student=cfg,
            student_tap='auto',
            teacher=dict(
                model=dict(type='ResNet', depth=50),
                checkpoint='teacher.pth',
                prefix=None,
                fingerprint='0123456789abcdef',
                tap='auto',
                width=2048),
            align='SVDPTS'))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save(
        dict(meta=meta, state_dict=full, message_hub={}, optimizer={}), path)
    return state


def zero_tensor_bytes(path: str, count: int = 64) -> int:
    """Zero ``count`` bytes in the middle of the largest tensor record of a
    ``torch.save`` file (a disk or transfer fault that leaves the zip
    readable); returns the offset."""
    import struct
    import zipfile
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if '/data/' in i.filename),
                   key=lambda i: i.file_size)
    with open(path, 'r+b') as f:
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack('<HH', f.read(4))
        offset = (
            info.header_offset + 30 + name_len + extra_len +
            info.file_size // 2)
        f.seek(offset)
        f.write(b'\0' * count)
    return offset
