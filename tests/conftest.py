"""Shared fixtures. ``kdep_mm`` is imported first: it applies the compat
shims (torchvision on a CPU-only torch, weights-only checkpoint loading)."""
import os
import os.path as osp
import sys

# isort: off
import kdep_mm  # noqa: F401  (must come first)
# isort: on
import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault('PYTHONPATH', REPO)


def make_image_folder(root: str,
                      num: int,
                      size: int = 48,
                      seed: int = 0,
                      nested: bool = True) -> str:
    """Write ``num`` random-texture JPEGs (unlabelled) under ``root``."""
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
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory):
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


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Each test starts in mmpretrain's scope: a Runner of an earlier test
    (mmdet, mmseg) leaves its own default scope behind otherwise."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
