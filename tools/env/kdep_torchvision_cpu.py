"""Environment shim: torchvision's NMS op schemas on a CPU-only torch.

Installed by ``tools/setup_env.sh`` into the project's virtual environment
(this file plus a one-line ``kdep_torchvision_cpu.pth``) ONLY when the
installed torchvision's compiled part cannot load with the installed torch,
which is the case for the CPU torch 2.13 wheel: the only torchvision wheels
for it are CUDA builds, and ``import torchvision`` then dies on ``operator
torchvision::nms does not exist`` (its fake-kernel registrations need the op
schemas). mmengine's environment report and ``mmpretrain.models`` import
torchvision, so without it nothing of the OpenMMLab stack imports here.

It is an environment fix, not part of the library: a normal install (a
torchvision built for its torch) never gets it. It costs nothing at start-up:
the ``.pth`` line only adds a finder to ``sys.meta_path``; the first
``import torchvision`` defines the ``nms`` / ``qnms`` schemas (with a
pure-PyTorch CPU kernel) and then lets torchvision import normally, whatever
imports it first. Nothing in kdep_mm or the OpenMMLab stack calls
torchvision's ops (mmcv's compiled ops serve detection).
"""
import sys

_LIB = []


def _nms_cpu(dets, scores, iou_threshold: float):
    """Greedy NMS in plain PyTorch (torchvision's semantics)."""
    import torch
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


def define_schemas() -> bool:
    """Define ``torchvision::nms`` / ``qnms`` unless someone already did.

    Returns:
        bool: True if they were defined here.
    """
    import torch
    try:
        torch.ops.torchvision.nms.default
        return False
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library('torchvision', 'DEF')  # noqa: TOR901
    for name in ('nms', 'qnms'):
        lib.define(f'{name}(Tensor dets, Tensor scores, float iou_threshold)'
                   ' -> Tensor')
    lib.impl('nms', _nms_cpu, 'CPU')
    _LIB.append(lib)  # keep the library alive for the life of the process
    return True


class _BeforeTorchvision:
    """A meta-path finder that defines the schemas on the first
    ``import torchvision`` and then steps aside."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == 'torchvision':
            sys.meta_path.remove(cls)
            define_schemas()
        return None


def install() -> None:
    """Called from the ``.pth`` line at interpreter start-up."""
    if 'torchvision' in sys.modules:
        define_schemas()
    elif _BeforeTorchvision not in sys.meta_path:
        sys.meta_path.insert(0, _BeforeTorchvision)
