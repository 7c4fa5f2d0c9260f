"""Shared fixtures: image folders, teacher files and KDEP checkpoints.

The makers themselves are in :mod:`tests.helpers.datagen`.
"""
import pytest

from kdep_mm.compat import (allow_mmengine_checkpoints,
                            write_loadable_checkpoints)
from tests.helpers.datagen import (make_image_folder, make_kdep_checkpoint,
                                   save_backbone)

# What tools/train.py does for its runs (kdep_mm.compat.prepare_run): the
# checkpoints that mmengine Runners write in this process, and those they
# resume from, load with torch's weights-only default. Nothing is changed by
# `import kdep_mm` itself.
allow_mmengine_checkpoints()
write_loadable_checkpoints()


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
    """24 unlabelled images in three sub-folders."""
    return make_image_folder(str(tmp_path_factory.mktemp('images')), 24)


@pytest.fixture(scope='session')
def r34_teacher(tmp_path_factory):
    cfg = dict(type='ResNet', depth=34)
    path = str(tmp_path_factory.mktemp('teacher') / 'r34.pth')
    return dict(model=cfg, checkpoint=save_backbone(cfg, path))


@pytest.fixture(scope='session')
def r50_teacher(tmp_path_factory):
    cfg = dict(type='ResNet', depth=50)
    path = str(tmp_path_factory.mktemp('teacher') / 'r50.pth')
    return dict(model=cfg, checkpoint=save_backbone(cfg, path))


@pytest.fixture
def backbone_file(tmp_path):
    """Factory: ``backbone_file(cfg, seed=0)`` -> path of random weights."""

    def make(cfg: dict, seed: int = 0) -> str:
        name = f"{cfg['type']}{cfg.get('depth', '')}_{seed}.pth"
        return save_backbone(cfg, str(tmp_path / name), seed)

    return make


@pytest.fixture(scope='session')
def tiny_setup(tmp_path_factory):
    """16 images (one flat folder) and a ResNet-18 teacher file, for the
    tiny runs of :mod:`tests.helpers.tiny`."""
    root = tmp_path_factory.mktemp('kdep_tiny')
    images = make_image_folder(str(root / 'images'), 16, size=40, nested=False)
    teacher = save_backbone(
        dict(type='ResNet', depth=18), str(root / 'teacher_r18.pth'))
    return dict(root=root, images=images, teacher=teacher)


@pytest.fixture(scope='session')
def kdep_ckpt(tmp_path_factory):
    """``kdep_ckpt(student)``: a full KDEP pre-training checkpoint."""
    root = tmp_path_factory.mktemp('kdep_ckpt')
    cache = {}

    def get(student: str) -> str:
        if student not in cache:
            path = str(root / f'{student}_epoch_1.pth')
            make_kdep_checkpoint(path, student, seed=1)
            cache[student] = path
        return cache[student]

    return get


@pytest.fixture(scope='session')
def trained_run(tmp_path_factory, image_folder, r34_teacher):
    """A finished two-epoch run of ``tools/train.py`` (the tiny config of
    :mod:`tests.helpers.kdep_tiny_cfg` on ``image_folder``):
    ``dict(cfg, work)``; ``work`` holds ``epoch_1.pth``, ``epoch_2.pth``
    and ``kdep_basis.pth``. Read it, do not change it."""
    import sys

    from tests.helpers.kdep_tiny_cfg import write_tiny_config
    from tests.helpers.tiny import run_tool
    root = tmp_path_factory.mktemp('trained_run')
    cfg = write_tiny_config(
        str(root / 'tiny.py'), image_folder, r34_teacher, epochs=2)
    work = str(root / 'work')
    run_tool([sys.executable, 'tools/train.py', cfg, '--work-dir', work])
    return dict(cfg=cfg, work=work)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Each test starts in mmpretrain's scope: a Runner of an earlier test
    (mmdet, mmseg) leaves its own default scope behind otherwise."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
