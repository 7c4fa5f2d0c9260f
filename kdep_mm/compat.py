"""Compatibility shims for torch >= 2.6 and CPU-only torch; nothing else.

Applied once when ``kdep_mm`` is imported, and inert where nothing is
broken (a normal CUDA install with a matching torchvision):

* **torchvision on a CPU-only torch.** The only torchvision wheels for
  torch 2.13 are CUDA builds whose compiled part fails to load with the CPU
  torch; ``import torchvision`` then dies on ``operator torchvision::nms
  does not exist`` (its fake-kernel registrations need the op schemas). When,
  and only when, that compiled part does not load, the ``nms`` / ``qnms``
  schemas are defined here with a pure-PyTorch CPU kernel, so torchvision
  (needed by mmengine's environment report and by ``mmpretrain.models``)
  imports. Nothing in kdep_mm or the OpenMMLab stack calls torchvision's
  ops: mmcv's compiled ops are used for detection.
* **torch.load(weights_only=True) by default.** Checkpoints written by
  mmengine's Runner hold a few plain Python/numpy objects (the message hub's
  ``HistoryBuffer``, numpy arrays and scalars). Instead of turning the
  safety off (``weights_only=False``), exactly those classes are added to
  torch's allow-list, so ``--resume`` works while every load, third-party
  weights included, stays weights-only: a file that pickles anything else
  is refused (see :func:`kdep_mm.utils.checkpoint.load_weights`).
* **Distributed runs without a GPU** (``tools/dist_train.sh`` on CPU, gloo):
  mmengine's pytorch launcher calls ``torch.cuda.set_device`` and its DDP
  wrapper passes ``device_ids``; without CUDA the process group is created
  with gloo instead and CPU modules are wrapped without device ids. Both
  are inert when CUDA is available.
"""
import glob
import importlib.util
import os.path as osp
import sys

import torch

_APPLIED = False


def _nms_cpu(dets: torch.Tensor, scores: torch.Tensor,
             iou_threshold: float) -> torch.Tensor:
    """Greedy NMS in plain PyTorch (torchvision's semantics)."""
    if dets.numel() == 0:
        return dets.new_empty((0, ), dtype=torch.long)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort(descending=True)
    keep = []
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    for i_pos in range(len(order)):
        if suppressed[i_pos]:
            continue
        i = order[i_pos]
        keep.append(i)
        rest = order[i_pos + 1:]
        xx1 = torch.maximum(x1[i], x1[rest])
        yy1 = torch.maximum(y1[i], y1[rest])
        xx2 = torch.minimum(x2[i], x2[rest])
        yy2 = torch.minimum(y2[i], y2[rest])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[i_pos + 1:] |= iou > iou_threshold
    return torch.stack(keep) if keep else dets.new_empty(
        (0, ), dtype=torch.long)


def _torchvision_ops_loadable() -> bool:
    """Whether torchvision's compiled ops load (True if not installed)."""
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        return True
    libs = []
    for loc in spec.submodule_search_locations:
        libs += glob.glob(osp.join(loc, '_C.*so')) + glob.glob(
            osp.join(loc, '_C.pyd'))
    if not libs:
        return False
    try:
        torch.ops.load_library(libs[0])
        return True
    except (OSError, RuntimeError, ImportError):
        return False


def patch_torchvision() -> bool:
    """Define torchvision's NMS schemas if its compiled part cannot load.

    Returns:
        bool: True if the schemas were defined here (the shim is active).
    """
    if 'torchvision' in sys.modules or _torchvision_ops_loadable():
        return False
    try:
        torch.ops.torchvision.nms.default  # defined by someone already
        return False
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library('torchvision', 'DEF')  # noqa: TOR901
    for name in ('nms', 'qnms'):
        lib.define(f'{name}(Tensor dets, Tensor scores, float iou_threshold)'
                   ' -> Tensor')
    lib.impl('nms', _nms_cpu, 'CPU')
    # Keep the library object alive for the life of the process.
    patch_torchvision._lib = lib
    return True


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


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the built-in statistics.

    mmengine pickles the class-level ``min/max/current/mean`` methods into
    every checkpoint (as ``getattr(HistoryBuffer, 'min')``), which a
    weights-only load must refuse; ``__setstate__`` re-registers them
    anyway, so only custom statistics are kept.
    """
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


def allow_mmengine_checkpoints() -> None:
    """Let weights-only loading read mmengine's training checkpoints."""
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no allow-list (and no default)
        add(mmengine_checkpoint_globals())


def _init_dist_pytorch_cpu(backend: str = 'gloo',
                           init_backend: str = 'torch',
                           **kwargs) -> None:
    """mmengine's pytorch launcher for a machine without CUDA."""
    import torch.distributed as torch_dist
    if backend == 'nccl':
        backend = 'gloo'  # nccl needs GPUs
    torch_dist.init_process_group(backend=backend, **kwargs)


def patch_cpu_distributed() -> bool:
    """Let mmengine's launchers and DDP wrapper run on CPU (gloo)."""
    if torch.cuda.is_available():
        return False
    import mmengine.dist.utils as dist_utils
    from mmengine.model import MMDistributedDataParallel
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu
    init = MMDistributedDataParallel.__init__
    if getattr(init, '_kdep_cpu', False):
        return True

    def __init__(self, module, *args, **kwargs):
        if kwargs.get('device_ids') and all(p.device.type == 'cpu'
                                            for p in module.parameters()):
            kwargs['device_ids'] = None
        init(self, module, *args, **kwargs)

    __init__._kdep_cpu = True
    MMDistributedDataParallel.__init__ = __init__
    return True


def apply() -> None:
    """Apply every shim once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    patch_torchvision()
    allow_mmengine_checkpoints()
    patch_cpu_distributed()
    _APPLIED = True
