"""Bad input ends in a clear error that names the culprit."""
import logging
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS, MODELS

from kdep_mm.datasets import LoadImageFromFileSafe, UnreadableImageError
from kdep_mm.utils.checkpoint import (CheckpointMismatchError,
                                      load_state_dict_strict)
from .tiny import make_images, make_teacher


def build_kdep(teacher_ckpt, teacher_depth=18, student=None, **kwargs):
    return MODELS.build(
        dict(
            type='KDEP',
            backbone=student or dict(type='ResNet', depth=18),
            teacher=dict(
                model=dict(type='ResNet', depth=teacher_depth),
                checkpoint=teacher_ckpt,
                **kwargs.pop('teacher_extra', {})),
            probe_size=32,
            **kwargs))


def test_missing_teacher_checkpoint(tmp_path):
    missing = str(tmp_path / 'no_such_teacher.pth')
    with pytest.raises(FileNotFoundError, match='no_such_teacher.pth'):
        build_kdep(missing)


def test_teacher_checkpoint_of_another_architecture(tiny_setup, tmp_path):
    r34 = make_teacher(str(tmp_path / 'r34.pth'), depth=34)
    with pytest.raises(CheckpointMismatchError) as err:
        build_kdep(r34)  # the config says ResNet-18
    msg = str(err.value)
    assert 'r34.pth' in msg and 'nothing was loaded' in msg
    assert 'unexpected keys' in msg and 'layer1.2.conv1.weight' in msg

    # ResNet-50 weights: missing, unexpected and shape-mismatched keys.
    r50 = make_teacher(str(tmp_path / 'r50.pth'), depth=50)
    with pytest.raises(CheckpointMismatchError) as err:
        build_kdep(r50)
    msg = str(err.value)
    assert 'shape mismatches' in msg and 'layer1.0.conv1.weight' in msg
    assert 'unexpected keys' in msg and 'conv3.weight' in msg

    # Nothing is loaded: the module keeps its weights.
    net = MODELS.build(dict(type='ResNet', depth=18))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.load(r34, weights_only=True)
    with pytest.raises(CheckpointMismatchError):
        load_state_dict_strict(net, state, source=r34)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_incompatible_teacher_and_student_widths(tiny_setup):
    # MobileNetV2 (1280 channels) cannot regress on a 512-d ResNet-18.
    with pytest.raises(ValueError, match=r'1280 channels.*only 512'):
        build_kdep(
            tiny_setup['teacher'],
            student=dict(type='MobileNetV2', widen_factor=1.0))


def test_unknown_tap_point(tiny_setup):
    with pytest.raises(ValueError, match="tap point 'layer9.0.relu'"):
        build_kdep(
            tiny_setup['teacher'],
            teacher_extra=dict(tap=dict(module='layer9.0.relu')))
    with pytest.raises(ValueError, match="tap point 'stem.bogus'"):
        build_kdep(tiny_setup['teacher'], student_tap='stem.bogus')


# ---------------------------------------------------------------- images
@pytest.fixture
def broken_folder(tmp_path):
    folder = make_images(str(tmp_path / 'imgs'), 6)
    good = open(osp.join(folder, 'img_000.jpg'), 'rb').read()
    with open(osp.join(folder, 'img_truncated.jpg'), 'wb') as f:
        f.write(good[:len(good) * 2 // 3])
    with open(osp.join(folder, 'img_garbage.png'), 'wb') as f:
        f.write(b'this is not an image' * 10)
    open(osp.join(folder, 'img_empty.jpg'), 'wb').close()
    return folder


@pytest.mark.parametrize(
    'name',
    ['img_truncated.jpg', 'img_garbage.png', 'img_empty.jpg', 'missing.jpg'])
def test_unreadable_image_is_named(broken_folder, name):
    path = osp.join(broken_folder, name)
    with pytest.raises(UnreadableImageError) as err:
        LoadImageFromFileSafe()(dict(img_path=path))
    assert path in str(err.value)
    assert "on_error='skip'" in str(err.value)


def test_truncated_jpeg_would_load_silently_without_the_check(broken_folder):
    """Why the check exists: OpenCV decodes a truncated JPEG without an
    error."""
    path = osp.join(broken_folder, 'img_truncated.jpg')
    out = LoadImageFromFileSafe(check_truncated=False)
    try:
        img = out(dict(img_path=path))['img']
    except UnreadableImageError:  # a stricter decoder: also fine
        return
    assert isinstance(img, np.ndarray)


def test_skip_policy_skips_and_reports(broken_folder):
    dataset = DATASETS.build(
        dict(
            type='KDEPImageDataset',
            data_root=broken_folder,
            with_label=False,
            pipeline=[
                dict(type='LoadImageFromFileSafe', on_error='skip'),
                dict(type='Resize', scale=(16, 16)),
                dict(type='PackInputs')
            ]))
    assert len(dataset) == 9
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    before = LoadImageFromFileSafe.num_skipped
    try:
        np.random.seed(0)
        for i in range(len(dataset)):
            item = dataset[i]
            assert item['inputs'].shape[-2:] == (16, 16)
    finally:
        logger.removeHandler(handler)
    skipped = LoadImageFromFileSafe.num_skipped - before
    assert skipped >= 3  # each broken file at least once
    text = '\n'.join(r.getMessage() for r in records)
    for name in ('img_truncated.jpg', 'img_garbage.png', 'img_empty.jpg'):
        assert name in text
    assert f'{LoadImageFromFileSafe.num_skipped} unreadable image(s) ' \
        'skipped so far' in text


# --------------------------------------------------------------- folders
def build_dataset(root, **kwargs):
    return DATASETS.build(
        dict(type='KDEPImageDataset', data_root=root, pipeline=[], **kwargs))


def test_empty_dataset_folder(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='contains no images') as err:
        build_dataset(str(empty), with_label=False)
    assert str(empty) in str(err.value) and 'it is empty' in str(err.value)


def test_image_less_dataset_folder(tmp_path):
    folder = tmp_path / 'notes'
    (folder / 'sub').mkdir(parents=True)
    (folder / 'sub' / 'readme.txt').write_text('no images here')
    with pytest.raises(ValueError, match='contains no images') as err:
        build_dataset(str(folder), with_label=False)
    assert str(folder) in str(err.value) and 'readme.txt' in str(err.value)


def test_flat_folder_with_labels_explains_with_label(tmp_path):
    folder = make_images(str(tmp_path / 'flat'), 3)
    with pytest.raises(ValueError, match='with_label=False') as err:
        build_dataset(folder)
    assert folder in str(err.value)


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        build_dataset(str(tmp_path / 'nowhere'), with_label=False)
