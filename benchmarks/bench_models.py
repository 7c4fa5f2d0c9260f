"""The model side of the benchmarks: teacher -> student pairs, modes,
builders for the KDEP and supervised models, the bare PyTorch KDEP step,
the FLOP count and the teacher's grad-mode check.

Shared so that ``kdep_throughput.py``, ``dense_cost.py``, ``terms_cost.py``
and ``multi_teacher_cost.py`` time the same models with the same settings.
"""
import os.path as osp
from contextlib import nullcontext
from typing import Dict, List

import torch
import torch.nn.functional as F
# run as a script's sibling: its folder is on sys.path
from bench_common import amp_dtype, time_methods
from mmpretrain.registry import MODELS
from torch.utils.flop_counter import FlopCounterMode

import kdep_mm
from kdep_mm.utils.misc import IMAGENET_MEAN, IMAGENET_STD

PAIRS = {
    # name: (student backbone config, KDEP loss weight, learning rate)
    'r50-r18': (dict(type='ResNet', depth=18,
                     zero_init_residual=False), 20.0, 0.3),
    'r50-mbv2': (dict(type='MobileNetV2', widen_factor=1.0), 20.0, 0.1),
}
TEACHER = dict(type='ResNet', depth=50)
MODES = {
    # name: (mixed precision, channels_last)
    'fp32': (False, False),
    'amp': (True, False),
    'cl': (False, True),
    'amp_cl': (True, True),
}
MEAN, STD = list(IMAGENET_MEAN), list(IMAGENET_STD)


def make_teacher_checkpoint(workdir: str) -> str:
    """A ResNet-50 with random weights (speed does not depend on them)."""
    path = osp.join(workdir, 'teacher_r50_random.pth')
    if not osp.exists(path):
        torch.manual_seed(0)
        torch.save(MODELS.build(TEACHER).state_dict(), path)
    return path


def build_kdep(student: dict,
               loss_weight: float,
               ckpt: str,
               size: int,
               channels_last: bool,
               device: torch.device,
               compile: bool = False) -> torch.nn.Module:
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            teacher=dict(model=TEACHER, checkpoint=ckpt),
            loss=dict(type='KDEPLoss', mode='mse', loss_weight=loss_weight),
            probe_size=min(size, 64),
            channels_last=channels_last,
            compile=compile))
    random_basis(model.align, 0)
    return model.to(device)


def random_basis(align, seed: int) -> None:
    """A random orthonormal basis, a small random mean and a decreasing
    spectrum (speed does not depend on the values)."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(align.d_t, align.k, generator=g))
    align.set_basis(
        torch.randn(align.d_t, generator=g) * 0.1,
        basis,
        torch.linspace(10.0, 1.0, align.d_t),
        num_images=align.d_t + 1)  # full rank


def build_supervised(student: dict, channels_last: bool,
                     device: torch.device) -> torch.nn.Module:
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=student,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=1000,
                in_channels=512 if student['type'] == 'ResNet' else 1280,
                loss=dict(type='CrossEntropyLoss')),
            data_preprocessor=dict(
                type='ClsDataPreprocessor', mean=MEAN, std=STD, to_rgb=True)))
    if channels_last:
        model.to(memory_format=torch.channels_last)
        model.backbone.register_forward_pre_hook(lambda m, a: (a[0].contiguous(
            memory_format=torch.channels_last), ))
    return model.to(device)


def optim_wrapper_cfg(lr: float, amp: bool, dtype: torch.dtype) -> dict:
    cfg = dict(
        optimizer=dict(type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4))
    if amp:
        cfg = kdep_mm.engine.amp_optim_wrapper_cfg(cfg)
        cfg['dtype'] = str(dtype).replace('torch.', '')
    return cfg


class BareKDEP:
    """The KDEP step written with plain PyTorch on the model's own modules."""

    def __init__(self,
                 model,
                 lr: float,
                 amp: bool,
                 dtype: torch.dtype,
                 channels_last: bool,
                 device: torch.device,
                 inference_mode: bool = False):
        self.m = model
        self.opt = torch.optim.SGD(
            list(model.parameters()), lr=lr, momentum=0.9, weight_decay=5e-4)
        self.amp, self.dtype, self.cl = amp, dtype, channels_last
        self.device = device
        self.scaler = (
            torch.amp.GradScaler(device.type)
            if amp and dtype == torch.float16 else None)
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
        self.no_grad = torch.inference_mode if inference_mode else \
            torch.no_grad
        a = model.align
        self.r = a.num_targets
        self.w = model.loss_module.loss_weight

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        m, a = self.m, self.m.align
        x = inputs.to(self.device, non_blocking=True)
        x = (x.flip(1).float() - self.mean) / self.std
        if self.cl:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast(self.device.type, self.dtype) if self.amp \
            else nullcontext()
        with ctx:
            with self.no_grad():
                m.teacher_tap.reset()
                m.teacher(x)
                f_t = m.teacher_tap.pop()
            m.student_tap.reset()
            m.backbone(x)
            f_s = m.student_tap.pop()
        t = a.scale(a.project(f_t))
        loss = self.w * F.mse_loss(f_s.float()[:, :self.r], t[:, :self.r])
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss


def count_flops(kdep, sup, size: int, device: torch.device) -> Dict:
    """FLOPs per image of one training step, from counted forward FLOPs.

    Forward passes are counted with :class:`FlopCounterMode` (multiply-add
    = 2 FLOPs); a backward pass is taken as twice its forward, the usual
    convention. (Counting the backward directly is wrong for MobileNetV2:
    torch's counter treats a grouped / depthwise convolution's backward as
    a dense one.) KDEP step = F_t + 3 F_s; supervised step = 3 (F_s +
    F_head).
    """
    b = 2
    x = torch.zeros(b, 3, size, size, device=device)

    def fwd(fn) -> float:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            fn()
        return fc.get_total_flops() / b

    out = dict(
        teacher_fwd=fwd(lambda: kdep.extract_teacher_feat(x)),
        student_fwd=fwd(lambda: kdep.backbone(x)),
        sup_fwd=fwd(lambda: sup(x, mode='tensor')))
    out['kdep_step'] = out['teacher_fwd'] + 3 * out['student_fwd']
    out['sup_step'] = 3 * out['sup_fwd']
    out['ratio_counted'] = out['kdep_step'] / out['sup_step']
    out['ratio_3fwd'] = 1 + out['teacher_fwd'] / (3 * out['student_fwd'])
    return out


def teacher_mode_check(args, device, ckpt: str) -> List[Dict]:
    """Teacher forward alone: ``torch.no_grad`` against
    ``torch.inference_mode`` (then the full bare step with each)."""
    rows = []
    dtype = amp_dtype(device, args.amp_dtype)
    student, w, lr = PAIRS['r50-r18']
    for mode in args.modes:
        amp, cl = MODES[mode]
        kdep = build_kdep(student, w, ckpt, args.size, cl, device)
        x = torch.randint(
            0,
            256, (args.batch, 3, args.size, args.size),
            dtype=torch.uint8,
            device=device)
        xn = kdep.data_preprocessor(dict(inputs=x))['inputs']
        ctx = (lambda: torch.autocast(device.type, dtype)) if amp else \
            nullcontext

        def fwd(grad_mode):

            def f():
                with ctx(), grad_mode():
                    kdep.teacher(kdep._prepare(xn))
                    return kdep.teacher_tap.pop().sum()

            return f

        bare_ng = BareKDEP(kdep, lr, amp, dtype, cl, device)
        bare_im = BareKDEP(
            kdep, lr, amp, dtype, cl, device, inference_mode=True)
        res = time_methods(
            dict(
                teacher_no_grad=fwd(torch.no_grad),
                teacher_inference_mode=fwd(torch.inference_mode),
                step_no_grad=lambda: bare_ng(x),
                step_inference_mode=lambda: bare_im(x)), args.batch,
            args.iters, args.warmup, args.repeats, device)
        row = dict(mode=mode)
        row.update({k: v['ips_median'] for k, v in res.items()})
        rows.append(row)
        print(
            f'teacher grad mode [{mode}]: ' +
            ', '.join(f'{k} {v:.1f} img/s'
                      for k, v in row.items() if k != 'mode'),
            flush=True)
    return rows
