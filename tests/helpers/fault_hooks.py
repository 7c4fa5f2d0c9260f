"""Test-only hooks that inject faults into a tiny KDEP run.

Imported by the tiny configs of :mod:`.tiny` (``custom_imports``); each
fault is off unless its argument (or environment variable) is set:

* ``kill_at`` / ``KDEP_FAULT_KILL_AT``: SIGKILL the process after this
  iteration (after every other hook, checkpoints included).
* ``nan_at`` / ``KDEP_FAULT_NAN_AT``: fill the teacher's first weight with
  NaN just before this iteration.
* ``dump_dir`` / ``KDEP_FAULT_DUMP_DIR``: at the end, each rank saves its
  basis and student weights to ``dump_dir/rank<r>.pth`` (outside the work
  directory, which the test checks for stray files).
* ``KDEP_FAULT_RECORD_WRITES``: set to a folder; from import on, every
  file this process opens for writing (``open``, ``os.replace``,
  ``os.rename``) is recorded, and ``<folder>/writes_rank<r>.txt`` lists
  them at the end of the run.
"""
import builtins
import os
import os.path as osp
import signal

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from kdep_mm.utils.misc import unwrap_model

WRITES = []


def _record_writes():
    real_open, real_replace, real_rename = builtins.open, os.replace, \
        os.rename

    def recording_open(file, mode='r', *args, **kwargs):
        if isinstance(file,
                      (str, os.PathLike)) and any(c in mode for c in 'wax+'):
            WRITES.append(osp.abspath(os.fspath(file)))
        return real_open(file, mode, *args, **kwargs)

    def recording_replace(src, dst, *args, **kwargs):
        WRITES.append(osp.abspath(os.fspath(dst)))
        return real_replace(src, dst, *args, **kwargs)

    def recording_rename(src, dst, *args, **kwargs):
        WRITES.append(osp.abspath(os.fspath(dst)))
        return real_rename(src, dst, *args, **kwargs)

    builtins.open = recording_open
    os.replace = recording_replace
    os.rename = recording_rename


if os.environ.get('KDEP_FAULT_RECORD_WRITES'):
    _record_writes()


def _env_int(name):
    value = os.environ.get(name)
    return int(value) if value else None


@HOOKS.register_module(force=True)
class KDEPTestFaultHook(Hook):
    """See the module docstring."""

    priority = 'LOWEST'

    def __init__(self, kill_at=None, nan_at=None, dump_dir=None):
        self.kill_at = kill_at or _env_int('KDEP_FAULT_KILL_AT')
        self.nan_at = nan_at or _env_int('KDEP_FAULT_NAN_AT')
        self.dump_dir = dump_dir or os.environ.get('KDEP_FAULT_DUMP_DIR')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.nan_at is not None and runner.iter + 1 == self.nan_at:
            teacher = unwrap_model(runner.model).teacher
            with torch.no_grad():
                next(teacher.parameters()).fill_(float('nan'))

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.kill_at is not None and runner.iter + 1 == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def after_run(self, runner):
        folder = os.environ.get('KDEP_FAULT_RECORD_WRITES')
        if folder:
            with open(
                    osp.join(folder, f'writes_rank{dist.get_rank()}.txt'),
                    'w') as f:
                f.write('\n'.join(WRITES))

    def after_train(self, runner):
        if not self.dump_dir:
            return
        model = unwrap_model(runner.model)
        os.makedirs(self.dump_dir, exist_ok=True)
        slots = {
            name:
            dict(
                mean=a.mean.clone(),
                basis=a.basis.clone(),
                spectrum=a.spectrum.clone(),
                num_images=int(a.num_images))
            for name, a in model.basis_slots().items()
        }
        torch.save(
            dict(
                slots.get('pooled', {}),
                slots=slots,
                backbone={
                    k: v.clone()
                    for k, v in model.backbone.state_dict().items()
                }), osp.join(self.dump_dir, f'rank{dist.get_rank()}.pth'))
