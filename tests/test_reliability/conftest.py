"""Fixtures of the reliability tests."""
import pytest

from .tiny import make_images, make_teacher


@pytest.fixture(scope='session')
def tiny_setup(tmp_path_factory):
    """16 images and a ResNet-18 teacher file, shared by the session."""
    root = tmp_path_factory.mktemp('kdep_tiny')
    images = make_images(str(root / 'images'), 16)
    teacher = make_teacher(str(root / 'teacher_r18.pth'))
    return dict(root=root, images=images, teacher=teacher)
