"""Checkpoints are written atomically (``KDEPCheckpointHook``, which
``tools/train.py`` gives every run): a save that fails half-way leaves no
``epoch_N.pth`` under its final name, ``last_checkpoint`` still names the
previous one, and the error names the file (a full disk: and the free
space)."""
import errno
import os
import os.path as osp
import resource
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import save_checkpoint

from kdep_mm.engine.hooks.checkpoint_hook import (ATOMIC_BACKEND,
                                                  KDEPCheckpointHook,
                                                  use_safe_checkpoints)
from kdep_mm.utils.cli import check_start_checkpoint
from tests.helpers.tiny import run_tool_failing


def test_a_save_that_fails_half_way_leaves_no_partial_checkpoint(
        tmp_path, trained_run):
    """The resumed run may write only half a checkpoint (RLIMIT_FSIZE: the
    kernel refuses the rest, as a full disk would): mmengine alone leaves a
    partial epoch_3.pth under its final name; here nothing is left, and
    ``last_checkpoint`` still names epoch_2.pth, which verifies."""
    work = tmp_path / 'work'
    work.mkdir()
    previous = str(work / 'epoch_2.pth')
    os.link(osp.join(trained_run['work'], 'epoch_2.pth'), previous)
    (work / 'last_checkpoint').write_text(previous)
    half = osp.getsize(previous) // 2

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (half, half))

    out = run_tool_failing([
        sys.executable, 'tools/train.py', trained_run['cfg'], '--work-dir',
        str(work), '--resume', '--cfg-options', 'train_cfg.max_epochs=3'
    ],
                           preexec_fn=limit_file_size)
    assert f"cannot write {work / 'epoch_3.pth'}: File too large" in out
    assert 'nothing was written at the destination' in out
    assert not any('epoch_3' in name for name in os.listdir(work))
    assert (work / 'last_checkpoint').read_text() == previous
    check_start_checkpoint(
        Config(dict(resume=True, load_from=None, work_dir=str(work))))


def test_a_full_disk_during_a_save_names_the_file_and_the_free_space(
        tmp_path, monkeypatch):
    """mmengine's own save path (``save_checkpoint`` through the hook's
    file backend) on a full disk: the file and the free space are named,
    where torch alone says ``enforce fail at inline_container.cc``."""
    path = str(tmp_path / 'epoch_4.pth')

    def full(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(OSError) as err:
        save_checkpoint(
            dict(state_dict=dict(w=torch.ones(3))),
            path,
            backend_args=dict(backend=ATOMIC_BACKEND))
    assert err.value.errno == errno.ENOSPC
    assert f'cannot write {path}: the disk is full' in str(err.value)
    assert 'bytes free in' in str(err.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    'hooks, expect',
    [(dict(checkpoint=dict(type='CheckpointHook', interval=5)),
      dict(type='KDEPCheckpointHook', interval=5)),
     (dict(), dict(type='KDEPCheckpointHook', interval=1)),
     (dict(checkpoint=None), None),
     (dict(checkpoint=dict(type='MyCheckpointHook')),
      dict(type='MyCheckpointHook'))])
def test_every_train_py_run_gets_the_safe_hook(hooks, expect):
    """mmengine's CheckpointHook (or mmengine's default when none is
    named) becomes KDEPCheckpointHook with the same arguments; no
    checkpoints and other hooks are left alone."""
    cfg = Config(dict(default_hooks=hooks))
    use_safe_checkpoints(cfg)
    assert cfg.default_hooks.get('checkpoint') == expect


def test_the_hook_builds_in_any_scope_and_writes_locally(tmp_path):
    """Downstream runs (mmdet's scope) find it in mmengine's registry; a
    remote or explicitly configured writer is kept."""
    from mmdet.registry import HOOKS
    with DefaultScope.overwrite_default_scope('mmdet'):
        hook = HOOKS.build(dict(type='KDEPCheckpointHook', interval=2))
    assert isinstance(hook, KDEPCheckpointHook) and hook.interval == 2
    assert hook.backend_args == dict(backend=ATOMIC_BACKEND)
    remote = KDEPCheckpointHook(out_dir='s3://bucket/run')
    assert remote.backend_args is None
