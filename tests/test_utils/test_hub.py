"""The teacher file (issue 28): checked against the model zoo's
``-<sha256 prefix>`` of its name and an optional ``teacher.sha256``, each
time it is used, hashed once; a model-zoo URL that cannot be reached names
``model.teacher.checkpoint`` and how to give a local copy."""
import os
import shutil

import pytest

import kdep_mm.utils.hub as hub
from kdep_mm.models.teacher import build_teacher
from kdep_mm.utils.checkpoint import DamagedFileError
from kdep_mm.utils.fileio import sha256_file
from tests.helpers.datagen import zero_tensor_bytes

R18 = dict(type='ResNet', depth=18)


@pytest.fixture
def zoo_file(tiny_setup, tmp_path):
    """The tiny teacher under a model-zoo name, and its sha256."""
    digest = sha256_file(tiny_setup['teacher'])
    path = str(tmp_path / f'resnet18_tiny-{digest[:8]}.pth')
    shutil.copy(tiny_setup['teacher'], path)
    return path, digest


def test_a_zoo_named_teacher_with_zeroed_bytes_is_refused(zoo_file):
    path, digest = zoo_file
    build_teacher(dict(model=R18, checkpoint=path))  # intact: loads
    zero_tensor_bytes(path)
    actual = sha256_file(path)
    with pytest.raises(DamagedFileError) as err:
        build_teacher(dict(model=R18, checkpoint=path))
    msg = str(err.value)
    assert f'cannot use {path} (model.teacher.checkpoint)' in msg
    assert f'its sha256 starts with {actual[:8]}' in msg
    assert f'the model-zoo hash in its name says {digest[:8]}' in msg


def test_a_configured_sha256_is_checked_and_the_file_hashed_once(
        zoo_file, monkeypatch):
    path, digest = zoo_file
    calls = []

    def counting(p):
        calls.append(p)
        return sha256_file(p)

    monkeypatch.setattr(hub, 'sha256_file', counting)
    build_teacher(dict(model=R18, checkpoint=path, sha256=digest))
    assert calls == [path]  # name prefix and full digest: one pass
    with pytest.raises(DamagedFileError) as err:
        build_teacher(dict(model=R18, checkpoint=path, sha256='0' * 12))
    assert 'model.teacher.sha256 says 000000000000' in str(err.value)
    with pytest.raises(ValueError, match='64 hex digits, or its first 8'):
        build_teacher(dict(model=R18, checkpoint=path, sha256='abc'))


def test_an_unreachable_teacher_url_names_the_config_key(
        tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    url = 'http://127.0.0.1:9/resnet18_tiny-0123abcd.pth'  # nothing listens
    with pytest.raises(ConnectionError) as err:
        build_teacher(dict(model=R18, checkpoint=url))
    msg = str(err.value)
    assert f'cannot download model.teacher.checkpoint = {url}' in msg
    assert '--cfg-options model.teacher.checkpoint=PATH' in msg
    assert not os.listdir(tmp_path / 'torch_home' / 'hub' / 'checkpoints')
