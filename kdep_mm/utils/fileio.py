"""File helpers written once: atomic writes and file digests.

Every file the project writes that another run may read (basis files,
exported students, converted weights, result files) is written through
:func:`atomic_write`: the bytes go to a temporary file in the destination
folder, are flushed to disk and renamed over the destination, so a reader
sees the old file or the new one, never half of one, and a crash leaves no
partial destination. The temporary file is removed on any error.
"""
import hashlib
import io
import os
import os.path as osp
import tempfile
from typing import Callable, Union

import torch

Writer = Callable[[io.BufferedWriter], None]


def atomic_write(path: str, data: Union[bytes, str, Writer]) -> str:
    """Write ``data`` to ``path`` atomically (temporary file + rename).

    Args:
        path (str): Destination; its folder is created if needed.
        data (bytes | str | callable): The content, or a function that
            writes it into the binary file object it is given.

    Returns:
        str: ``path``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; give it the permissions a plain
        # open() would (what mmengine's checkpoints get).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def torch_save_atomic(obj, path: str) -> str:
    """``torch.save(obj, path)`` through :func:`atomic_write`."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def torch_bytes(obj) -> bytes:
    """The bytes ``torch.save`` writes for ``obj``."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()
