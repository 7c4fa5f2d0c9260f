"""Training checkpoints as safe as the basis file: checksummed and written
atomically.

mmengine's ``CheckpointHook`` writes ``epoch_N.pth`` in place (``open(...,
'wb')``): a process killed, or a disk that fills, in the middle of the
write leaves a partial file under the final name; and nothing in the file
tells a later reader that its bytes changed. :class:`KDEPCheckpointHook` is
that hook with two changes and no patched mmengine code:

* every checkpoint records the digest of the tensors of each of its
  entries (weights, optimizer state, message hub, random state:
  :func:`~kdep_mm.utils.checkpoint.add_checkpoint_checksum`), verified by
  ``tools/train.py`` (``--resume``, ``--continue-from``, ``load_from``),
  ``tools/test.py`` and ``tools/extract_student.py`` before any work;
* the file is written through mmengine's own file-backend interface by
  :class:`AtomicLocalBackend` (temporary file in the same folder, flushed,
  then renamed: :func:`~kdep_mm.utils.fileio.atomic_write`), so a crash
  leaves no ``epoch_N.pth`` and ``last_checkpoint`` still names the
  previous one; a full disk names the file and the free space.

``tools/train.py`` gives every run this hook (:func:`use_safe_checkpoints`:
mmengine's ``CheckpointHook`` in ``default_hooks`` becomes this one, with
the same arguments); the KDEP base config names it too.
"""
from typing import Optional

from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...utils.checkpoint import add_checkpoint_checksum
from ...utils.fileio import atomic_write

#: The name of :class:`AtomicLocalBackend` in mmengine's file backends.
ATOMIC_BACKEND = 'kdep_atomic_local'


@register_backend(ATOMIC_BACKEND, force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` is atomic."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)


@HOOKS.register_module()
class KDEPCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with checksummed, atomically written
    checkpoints (see the module docstring); same arguments.

    A remote ``out_dir`` (``s3://...``) or explicit ``backend_args`` /
    ``file_client_args`` keep mmengine's writer (still checksummed).
    """

    def __init__(self,
                 *args,
                 out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None,
                 **kwargs) -> None:
        local = out_dir is None or '://' not in str(out_dir)
        if backend_args is None and file_client_args is None and local:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(
            *args,
            out_dir=out_dir,
            backend_args=backend_args,
            file_client_args=file_client_args,
            **kwargs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # VERY_LOW: after the hooks that add to the checkpoint (the random
        # state of KDEPRandomStateHook).
        add_checkpoint_checksum(checkpoint)


def use_safe_checkpoints(cfg) -> None:
    """Give a config :class:`KDEPCheckpointHook`: mmengine's
    ``CheckpointHook`` in ``default_hooks.checkpoint`` becomes it (same
    arguments), and a config that names none gets it with mmengine's
    default (``interval=1``). ``checkpoint=None`` (no checkpoints) and other
    hook types are left alone."""
    hooks = cfg.get('default_hooks')
    if hooks is None:
        cfg.default_hooks = hooks = dict()
    if 'checkpoint' not in hooks:
        hooks['checkpoint'] = dict(type='KDEPCheckpointHook', interval=1)
        return
    hook = hooks['checkpoint']
    if isinstance(hook, dict) and hook.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook', CheckpointHook):
        hook['type'] = 'KDEPCheckpointHook'
