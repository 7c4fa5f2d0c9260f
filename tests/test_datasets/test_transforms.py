"""LoadImageFromFileSafe: an unreadable image ends in a clear error that
names it, or is skipped and reported (``on_error='skip'``)."""
import logging
import os.path as osp

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmpretrain.registry import DATASETS

from kdep_mm.datasets import LoadImageFromFileSafe, UnreadableImageError
from tests.helpers.datagen import make_image_folder


@pytest.fixture
def broken_folder(tmp_path):
    folder = make_image_folder(str(tmp_path / 'imgs'), 6, nested=False)
    good = open(osp.join(folder, 'img_0000.jpg'), 'rb').read()
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
    assert 'python tools/train.py CONFIG --preflight' in str(err.value)


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
