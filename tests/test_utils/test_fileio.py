"""atomic_write: the destination is the old file or the new one, never a
part; it gets the permissions a plain open() gives. sha256_file,
torch_bytes and torch_save_atomic agree with their plain counterparts."""
import errno
import hashlib
import io
import os
import stat

import pytest
import torch

from kdep_mm.utils.fileio import (atomic_write, sha256_file, torch_bytes,
                                  torch_save_atomic)


def test_bytes_str_and_writer(tmp_path):
    path = str(tmp_path / 'sub' / 'a.bin')  # the folder is created
    assert atomic_write(path, b'\x00\x01') == path
    assert open(path, 'rb').read() == b'\x00\x01'
    atomic_write(path, 'text é')
    assert open(path, 'rb').read() == 'text é'.encode()
    atomic_write(path, lambda f: f.write(b'written'))
    assert open(path, 'rb').read() == b'written'
    assert os.listdir(tmp_path / 'sub') == ['a.bin']  # no temporary left


def test_a_writer_that_raises_leaves_no_partial_file(tmp_path):
    new, old = str(tmp_path / 'new.bin'), str(tmp_path / 'old.bin')
    atomic_write(old, b'old content')

    def half_then_crash(f):
        f.write(b'half of it')
        raise OSError('disk full')

    for dest in (new, old):
        with pytest.raises(OSError, match='disk full'):
            atomic_write(dest, half_then_crash)
    assert not os.path.exists(new)
    assert open(old, 'rb').read() == b'old content'  # untouched
    assert sorted(os.listdir(tmp_path)) == ['old.bin']
    # an interrupt (not an Exception) cleans up as well
    with pytest.raises(KeyboardInterrupt):
        atomic_write(new, lambda f: (_ for _ in ()).throw(KeyboardInterrupt))
    assert sorted(os.listdir(tmp_path)) == ['old.bin']


@pytest.mark.parametrize(
    'umask', [0o022, 0o077, 0o002], ids=['022', '077', '002'])
def test_permissions_like_open(tmp_path, umask):
    old_umask = os.umask(umask)
    try:
        plain = str(tmp_path / 'plain.bin')
        with open(plain, 'wb') as f:
            f.write(b'x')
        atomic = atomic_write(str(tmp_path / 'atomic.bin'), b'x')
        assert os.umask(umask) == umask  # atomic_write restored the umask
    finally:
        os.umask(old_umask)
    mode = stat.S_IMODE(os.stat(atomic).st_mode)
    assert mode == stat.S_IMODE(os.stat(plain).st_mode)
    assert mode == 0o666 & ~umask


def test_torch_helpers_and_digest(tmp_path):
    obj = dict(w=torch.arange(6.).view(2, 3), meta=dict(note='x'))
    path = torch_save_atomic(obj, str(tmp_path / 'obj.pth'))
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded['w'], obj['w']) and loaded['meta'] == obj['meta']
    data = torch_bytes(obj)
    assert data == open(path, 'rb').read()  # the bytes torch.save writes
    assert torch.equal(
        torch.load(io.BytesIO(data), weights_only=True)['w'], obj['w'])
    assert sha256_file(path) == hashlib.sha256(open(path,
                                                    'rb').read()).hexdigest()
    assert sha256_file(path, chunk=5) == sha256_file(path)  # any chunking


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    """SIGKILL during a write leaves ``.<name>.<pid>.<random>.tmp``; the
    next write of the same file removes it when its writer is gone (or it
    is old), not a fresh one a live writer may still be filling, nor
    another file's."""
    import time
    dead = _dead_pid()
    dest = tmp_path / 'kdep_basis.pth'
    killed = tmp_path / f'.kdep_basis.pth.{dead}.abc123.tmp'
    old_live = tmp_path / f'.kdep_basis.pth.{os.getpid()}.old.tmp'
    fresh_live = tmp_path / f'.kdep_basis.pth.{os.getpid()}.new.tmp'
    fresh_dead = tmp_path / f'.kdep_basis.pth.{dead}.new.tmp'
    other = tmp_path / f'.other.pth.{dead}.abc123.tmp'
    for f in (killed, old_live, fresh_live, fresh_dead, other):
        f.write_bytes(b'')
    for f, age in ((killed, 120), (old_live, 3600), (other, 3600)):
        t = time.time() - age
        os.utime(f, (t, t))
    atomic_write(str(dest), b'new')
    assert dest.read_bytes() == b'new'
    assert not killed.exists() and not old_live.exists()
    assert fresh_live.exists() and fresh_dead.exists() and other.exists()
    # the write's own temporary file is gone too
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [dest.name, fresh_live.name, fresh_dead.name, other.name])


def _dead_pid() -> int:
    """The pid of a process that has finished."""
    import subprocess
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize('error', [
    OSError(errno.ENOSPC, 'No space left on device'),
    RuntimeError('[enforce fail at inline_container.cc:626] . unexpected '
                 'pos 64 vs 0: PytorchStreamWriter failed writing file '
                 'data/0: file write failed'),
])
def test_a_full_disk_names_the_file_and_the_free_space(tmp_path, error):
    """A basis / export / converted file written on a full disk: the error
    names the file, the free space and leaves nothing at the destination,
    where torch alone says ``enforce fail at inline_container.cc``."""
    dest = str(tmp_path / 'kdep_basis.pth')

    def full(f):
        f.write(b'partial')
        raise error

    with pytest.raises(OSError) as err:
        atomic_write(dest, full)
    msg = str(err.value)
    assert err.value.errno == errno.ENOSPC
    assert f'cannot write {dest}: the disk is full' in msg
    assert 'bytes free in' in msg
    assert os.listdir(str(tmp_path)) == []
