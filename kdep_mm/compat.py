"""Compatibility with torch >= 2.6 and CPU-only machines; nothing else.

Nothing here runs on ``import kdep_mm``: a downstream config that imports
kdep_mm (``custom_imports``) leaves every other library as it is. The
project's own entry points (``tools/train.py``, ``tools/test.py``) call
:func:`prepare_run`; each shim says where it applies.

* **Reading mmengine's training checkpoints weights-only** (torch >= 2.6
  loads with ``weights_only=True`` by default). A checkpoint written by
  mmengine's Runner holds a few plain Python/numpy objects (the message
  hub's ``HistoryBuffer``, numpy arrays and scalars). Instead of turning the
  safety off, exactly those classes are added to torch's allow-list
  (:func:`allow_mmengine_checkpoints`, also called by
  :func:`kdep_mm.utils.checkpoint.load_weights`), so ``--resume`` works
  while a file that pickles anything else is still refused.
* **Writing checkpoints that load weights-only.** mmengine pickles the
  class-level statistics methods of ``HistoryBuffer`` into every checkpoint
  (as ``getattr`` references, which a weights-only load refuses);
  :func:`write_loadable_checkpoints` drops them (``__setstate__``
  re-registers them anyway). Applied by the tools that train.
* **Distributed runs without a GPU** (``tools/dist_train.sh`` on CPU):
  mmengine's pytorch launcher calls ``torch.cuda.set_device`` and its DDP
  wrapper passes ``device_ids``. :func:`setup_cpu_distributed` creates the
  gloo process group itself before the Runner is built (mmengine then skips
  its own initialisation) and sets ``model_wrapper_cfg.device_ids=None``:
  no mmengine code is patched. Inert when CUDA is available.

The torchvision fix for a CPU-only torch with a CUDA torchvision wheel is
an environment matter and lives in ``tools/env/kdep_torchvision_cpu.py``
(installed into the virtual environment by ``tools/setup_env.sh`` only
where it is needed).
"""
import os

import torch

_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def mmengine_checkpoint_globals() -> list:
    """The classes that mmengine's own training checkpoints pickle."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in np.sctypeDict.values()]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype
            ] + sorted(
                set(dtypes), key=str)


def allow_mmengine_checkpoints() -> None:
    """Let weights-only loading read mmengine's training checkpoints."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no allow-list (and no default)
        add(mmengine_checkpoint_globals())


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the built-in statistics."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    custom = {
        k: v
        for k, v in self._statistics_methods.items()
        if k not in _DEFAULT_STATISTICS
    }
    if custom:
        state['statistics_methods'] = custom
    return state


def write_loadable_checkpoints() -> None:
    """Make the checkpoints of this process load with weights-only."""
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate


def setup_cpu_distributed(cfg) -> bool:
    """Start a gloo process group for a ``pytorch``-launched CPU run.

    Args:
        cfg (Config): The run's config (``launcher`` set); its
            ``model_wrapper_cfg`` gets ``device_ids=None``.

    Returns:
        bool: True if this is a CPU distributed run (set up here).
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    import torch.distributed as torch_dist
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    return True


def prepare_run(cfg) -> None:
    """Everything a training or test run of the project's tools needs."""
    allow_mmengine_checkpoints()
    write_loadable_checkpoints()
    setup_cpu_distributed(cfg)
