"""Weights files named by a config (the teacher): the model zoo's hash in
the file name, an optional ``sha256`` in the config, and downloads whose
failure names the config key to change.

OpenMMLab's and torchvision's published weights are named
``<name>-<first 8+ hex digits of the file's sha256>.pth``; ``torch.hub``
checks that prefix when it downloads (``check_hash=True``). Here a local
file named that way is checked too, each time it is used (a copy damaged
on disk after the download is refused, not trained on), and so is a
``sha256`` (full or a prefix) given in the config. The file is hashed once
for both.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Tuple
from urllib.error import URLError
from urllib.parse import urlparse

import torch

from .checkpoint import DamagedFileError
from .fileio import sha256_file

#: ``<name>-<hex>.pth``: the model zoo's sha256 prefix in a file name.
NAME_HASH = re.compile(r'-([0-9a-f]{8,64})\.pth$')


def name_hash(path: str) -> Optional[str]:
    """The sha256 prefix in a model-zoo style file name, else None."""
    found = NAME_HASH.search(osp.basename(path))
    return found.group(1) if found else None


def check_sha256(path: str,
                 sha256: Optional[str] = None,
                 key: str = 'checkpoint') -> None:
    """Refuse a file whose sha256 does not start with the prefix of its
    name (:func:`name_hash`) or with ``sha256``.

    Args:
        path (str): A local file.
        sha256 (str, optional): Its sha256 (64 hex digits, or a prefix of
            at least 8), from the config.
        key (str): The config key that names the file (in messages); the
            ``sha256`` is the key beside it.

    Raises:
        ValueError: ``sha256`` is not 8 to 64 hex digits.
        DamagedFileError: A digest differs (the file, the expected prefix
            and the file's own).
    """
    sha_key = key.rsplit('.', 1)[0] + '.sha256' if '.' in key else 'sha256'
    expected: List[Tuple[str, str]] = []
    prefix = name_hash(path)
    if prefix:
        expected.append(('the model-zoo hash in its name', prefix))
    if sha256 is not None:
        want = str(sha256).strip().lower()
        if not re.fullmatch(r'[0-9a-f]{8,64}', want):
            raise ValueError(f'{sha_key}={sha256!r}: give the sha256 of '
                             f'{path} (64 hex digits, or its first 8 or more)')
        expected.append((sha_key, want))
    if not expected:
        return
    digest = sha256_file(path)
    for where, want in expected:
        if not digest.startswith(want):
            reason = (f'its sha256 starts with {digest[:len(want)]}, '
                      f'{where} says {want}: the file was damaged, truncated '
                      'or replaced since it was published')
            raise DamagedFileError(
                f'cannot use {path} ({key}): {reason}. Download or copy it '
                'again from its source (keep its name), or correct '
                f'{sha_key} if the file is the right one.',
                reason=reason)


def local_copy(url: str, key: str = 'checkpoint') -> str:
    """The file of ``url`` in torch hub's cache (where
    ``torch.hub.load_state_dict_from_url`` keeps it), downloaded once.

    Raises:
        ConnectionError: The download failed (offline, unknown host, HTTP
            error); the message names ``key``, the URL and how to give a
            local copy instead.
    """
    cached = osp.join(torch.hub.get_dir(), 'checkpoints',
                      osp.basename(urlparse(url).path))
    if osp.isfile(cached):
        return cached
    os.makedirs(osp.dirname(cached), exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, cached, progress=True)
    except (URLError, ConnectionError, TimeoutError) as e:
        reason = getattr(e, 'reason', None) or e
        raise ConnectionError(
            f'cannot download {key} = {url}: {reason}. Without network '
            'access here: download the file on a machine that has it (keep '
            'its name: a model-zoo hash in it is checked), copy it here and '
            f'give its local path: --cfg-options {key}=PATH') from None
    return cached


def checked_file(checkpoint: str,
                 sha256: Optional[str] = None,
                 key: str = 'checkpoint') -> str:
    """The local file of a config's ``checkpoint`` (a URL is downloaded
    into torch hub's cache once), checked by :func:`check_sha256`; a
    missing local file is left to the loader to name."""
    path = checkpoint
    if checkpoint.startswith(('http://', 'https://')):
        path = local_copy(checkpoint, key)
    if osp.isfile(path):
        check_sha256(path, sha256, key)
    return path
