"""File helpers written once: atomic writes and file digests.

Every file the project writes that another run may read (basis files,
exported students, converted weights, result files) is written through
:func:`atomic_write`: the bytes go to a temporary file in the destination
folder, are flushed to disk and renamed over the destination, so a reader
sees the old file or the new one, never half of one, and a crash leaves no
partial destination. The temporary file is removed on any error, and one
that a killed writer left is removed by the next write.
"""
import errno
import glob
import hashlib
import io
import os
import os.path as osp
import shutil
import tempfile
import time
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
        prefix=f'.{osp.basename(path)}.{os.getpid()}.',
        suffix='.tmp',
        dir=folder)
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
    except BaseException as e:
        if osp.exists(tmp):
            os.remove(tmp)
        if _disk_full(e):
            free = shutil.disk_usage(folder).free
            raise OSError(
                errno.ENOSPC, f'cannot write {path}: the disk is full '
                f'({free} bytes free in {folder}); free space there (or '
                'write to another disk) and run the command again; nothing '
                'was written at the destination') from e
        if isinstance(e, OSError) and e.filename is None and e.errno:
            raise OSError(
                e.errno, f'cannot write {path}: {e.strerror}; nothing was '
                'written at the destination') from e
        raise
    remove_stale_temporaries(path)
    return path


def _disk_full(e: BaseException) -> bool:
    """A write that failed for lack of space: ``OSError(ENOSPC)``, or
    torch's zip writer's ``RuntimeError`` (``file write failed``)."""
    if isinstance(e, OSError):
        return e.errno == errno.ENOSPC
    return isinstance(e, RuntimeError) and 'write failed' in str(e)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temporaries(path: str,
                             older_than: float = 600.0,
                             dead_after: float = 60.0) -> list:
    """Delete what killed writers of ``path`` left behind.

    A process killed in the middle of :func:`atomic_write` (SIGKILL: no
    clean-up runs) leaves its ``.<name>.<pid>.<random>.tmp`` beside
    ``path``. The next successful write removes those whose writer is no
    longer running on this machine (and that are over ``dead_after``
    seconds old, so that a fresh one of another machine sharing the folder
    is left alone), and any not modified for ``older_than`` seconds.

    Returns:
        list: The removed files.
    """
    folder, name = osp.split(osp.abspath(path))
    removed = []
    now = time.time()
    for tmp in glob.glob(osp.join(folder, f'.{glob.escape(name)}.*.tmp')):
        pid = osp.basename(tmp)[len(name) + 2:].split('.')[0]
        try:
            age = now - osp.getmtime(tmp)
            dead = pid.isdigit() and not _alive(int(pid))
            if age > older_than or (dead and age > dead_after):
                os.remove(tmp)
                removed.append(tmp)
        except OSError:  # another process removed it first
            pass
    return removed


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
