"""KDEP pre-training throughput, side by side with a bare PyTorch loop and
the supervised student.

For each teacher -> student pair and each precision / memory-format mode it
measures, interleaved (A B C A B C ...) so that a noisy machine hits every
method alike:

1. ``kdep``: the KDEP training step through the real model and mmengine's
   optimiser wrapper, ``model.train_step(data, optim_wrapper)``;
2. ``bare``: a plain PyTorch loop doing the same computation on the same
   modules (normalisation, teacher forward without autograd, student
   forward / backward, fp32 PTS target, MSE, SGD step);
3. ``sup``: the student alone with a supervised loss (global pooling, linear
   head, cross-entropy), also through ``train_step``.

``1 / 2`` is the framework's overhead (target >= 0.95); the step-time ratio
``kdep / sup`` is what the teacher costs, set against the FLOP ratio counted
with :class:`torch.utils.flop_counter.FlopCounterMode` on the same step
(target <= 1.1 x). Inputs are uint8 batches already in memory (compute only)
and, separately, JPEG files read by mmpretrain's ``CustomDataset`` and the
KDEP training pipeline through a multi-worker DataLoader.

Example (CPU, a few minutes)::

    python benchmarks/kdep_throughput.py --device cpu --size 64 --batch 32

One GPU at the paper's resolution::

    python benchmarks/kdep_throughput.py --device cuda --size 224 \
        --batch 256 --iters 30 --warmup 10 --workers 8

Results go to ``--out-dir`` as markdown and json.
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from typing import Callable, Dict, Iterator, List, Optional

import mmengine
import mmpretrain
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
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


# ----------------------------------------------------------------- helpers
def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def amp_dtype(device: torch.device, requested: str) -> torch.dtype:
    """bfloat16 where supported (CPU, Ampere+), else float16."""
    if requested != 'auto':
        return getattr(torch, requested)
    if device.type == 'cpu' or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def hardware(device: torch.device) -> Dict:
    info = dict(
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads())
    try:
        with open('/proc/cpuinfo') as f:
            names = [
                ln.split(':', 1)[1].strip() for ln in f
                if ln.startswith('model name')
            ]
        info['cpu'] = names[0] if names else platform.processor()
        info['cpu_flags_bf16'] = 'avx512_bf16' in open('/proc/cpuinfo').read()
    except OSError:
        info['cpu'] = platform.processor()
    if hasattr(os, 'getloadavg'):
        info['loadavg_start'] = os.getloadavg()
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
        info['cudnn'] = torch.backends.cudnn.version()
    return info


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak, or sampled process RSS.

    On CPU the resident set size of the whole process is sampled every
    millisecond from ``/proc/self/statm`` (``ru_maxrss`` where that is
    missing); it includes the libraries and the allocator's caches, so only
    differences between methods are meaningful.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf('SC_PAGE_SIZE') if hasattr(os,
                                                           'sysconf') else 4096
        self._statm = osp.exists('/proc/self/statm')

    def _rss(self) -> int:
        if self._statm:
            with open('/proc/self/statm') as f:
                return int(f.read().split()[1]) * self._page
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.001)

    def __enter__(self) -> 'PeakMemory':
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())


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
    align = model.align
    g = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(torch.randn(align.d_t, align.k, generator=g))
    spectrum = torch.linspace(10.0, 1.0, align.d_t)
    align.set_basis(
        torch.randn(align.d_t, generator=g) * 0.1,
        basis,
        spectrum,
        num_images=1)
    return model.to(device)


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
        z = (f_t.float() - a.mean) @ a.basis
        t = torch.sign(z) * (z.abs() / a.temperature).pow(1.0 / a.power)
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


def save_results(out_dir: str, tag: str, md: str, result: Dict) -> None:
    """``<out_dir>/<tag>.md`` (the table) and ``.json`` (``result``, with
    the command that made it)."""
    os.makedirs(out_dir, exist_ok=True)
    result = dict(result, command=' '.join([sys.executable] + sys.argv))
    with open(osp.join(out_dir, tag + '.md'), 'w') as f:
        f.write(md)
    with open(osp.join(out_dir, tag + '.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'written: {osp.join(out_dir, tag)}.md / .json')


def fake_samples(b: int) -> List[DataSample]:
    return [DataSample().set_gt_label(i % 1000) for i in range(b)]


def time_methods(methods: Dict[str, Callable[[], Optional[torch.Tensor]]],
                 batch: int, iters: int, warmup: int, repeats: int,
                 device: torch.device) -> Dict[str, Dict]:
    """Images/s (median of ``repeats`` interleaved blocks) and peak memory."""
    res = {k: dict(ips=[], peak=0, loss=None) for k in methods}
    for name, fn in methods.items():
        for _ in range(warmup):
            fn()
    sync(device)
    for _ in range(repeats):
        for name, fn in methods.items():
            with PeakMemory(device) as mem:
                sync(device)
                t0 = time.perf_counter()
                for _ in range(iters):
                    out = fn()
                sync(device)
                dt = time.perf_counter() - t0
            res[name]['ips'].append(iters * batch / dt)
            res[name]['peak'] = max(res[name]['peak'], mem.peak)
            if out is not None:
                res[name]['loss'] = float(out)
    for r in res.values():
        r['ips_median'] = statistics.median(r['ips'])
        r['peak_mib'] = r.pop('peak') / 2**20
    return res


# ------------------------------------------------------------------- data
def make_jpegs(root: str, num: int, size: int) -> None:
    """``num`` ImageNet-shaped JPEGs (4:3, scaled like 500 x 375 at 224)."""
    import cv2
    w, h = max(size, round(size * 500 / 224)), max(size,
                                                   round(size * 375 / 224))
    rng = np.random.default_rng(0)
    for i in range(num):
        d = osp.join(root, f'class{i % 4}')
        os.makedirs(d, exist_ok=True)
        small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        img = np.clip(
            img.astype(np.int16) + rng.integers(-12, 13, img.shape), 0,
            255).astype(np.uint8)
        cv2.imwrite(
            osp.join(d, f'{i:05d}.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def train_pipeline(size: int) -> List[dict]:
    """The pipeline of ``configs/kdep/_base_`` at ``size``."""
    from mmengine.config import Config
    base = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'kdep',
        '_base_', 'kdep_in1k-10pct.py')
    pipeline = Config.fromfile(base).train_pipeline
    for t in pipeline:
        if t['type'] == 'RandomResizedCrop':
            t['scale'] = size
    return pipeline


def build_loader(root: str, size: int, batch: int, workers: int,
                 device: torch.device):
    return Runner.build_dataloader(
        dict(
            batch_size=batch,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=device.type == 'cuda',
            collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                type='CustomDataset',
                data_root=root,
                pipeline=train_pipeline(size))),
        seed=0)


def cycle(loader) -> Iterator[dict]:
    while True:
        for data in loader:
            yield data


# -------------------------------------------------------------------- main
def run_pair(name: str,
             args,
             device,
             ckpt: str,
             flops_cache: Dict,
             loader=None) -> List[Dict]:
    student, w, lr = PAIRS[name]
    rows = []
    dtype = amp_dtype(device, args.amp_dtype)
    modes = args.data_modes if loader is not None else args.modes
    for mode in modes:
        amp, cl = MODES[mode]
        torch.manual_seed(0)
        kdep = build_kdep(student, w, ckpt, args.size, cl, device,
                          args.compile)
        sup = build_supervised(student, cl, device)
        if args.compile:  # in place, like the KDEP model's option
            sup.backbone.compile()
        if name not in flops_cache:  # counted on uncompiled networks
            flops_cache[name] = count_flops(
                build_kdep(student, w, ckpt, args.size, cl, device)
                if args.compile else kdep,
                build_supervised(student, cl, device) if args.compile else sup,
                args.size, device)
        flops = flops_cache[name]
        kdep.train()
        sup.train()
        ow_k = build_optim_wrapper(kdep, optim_wrapper_cfg(lr, amp, dtype))
        ow_s = build_optim_wrapper(sup, optim_wrapper_cfg(lr, amp, dtype))
        bare = BareKDEP(kdep, lr, amp, dtype, cl, device)
        if loader is None:
            x = torch.randint(
                0,
                256, (args.batch, 3, args.size, args.size),
                dtype=torch.uint8,
                device=device)
            samples = fake_samples(args.batch)

            def batches():
                while True:
                    yield dict(inputs=x, data_samples=samples)

            src_k = src_b = src_s = batches()
        else:
            src_k = src_b = src_s = cycle(loader)

        def kdep_step():
            return kdep.train_step(next(src_k), ow_k)['loss']

        def bare_step():
            return bare(next(src_b)['inputs'])

        def sup_step():
            return sup.train_step(next(src_s), ow_s)['loss']

        methods = dict(kdep=kdep_step, bare=bare_step, sup=sup_step)
        res = time_methods(methods, args.batch, args.iters, args.warmup,
                           args.repeats, device)
        k, b, s = (res[m]['ips_median'] for m in ('kdep', 'bare', 'sup'))
        rows.append(
            dict(
                pair=name,
                mode=mode,
                input='jpeg' if loader is not None else 'memory',
                amp_dtype=str(dtype).replace('torch.', '') if amp else None,
                kdep_ips=k,
                bare_ips=b,
                sup_ips=s,
                overhead_ratio=k / b,
                teacher_cost=s / k,
                flop_ratio=flops['ratio_counted'],
                cost_vs_flops=(s / k) / flops['ratio_counted'],
                kdep_peak_mib=res['kdep']['peak_mib'],
                bare_peak_mib=res['bare']['peak_mib'],
                sup_peak_mib=res['sup']['peak_mib'],
                losses={m: res[m]['loss']
                        for m in res},
                ips_all={m: res[m]['ips']
                         for m in res}))
        print(format_row(rows[-1]), flush=True)
        kdep = sup = ow_k = ow_s = bare = None  # free before the next mode
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    return rows


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


COLS = [('pair', '{}'), ('mode', '{}'), ('input', '{}'),
        ('kdep_ips', '{:.1f}'), ('bare_ips', '{:.1f}'), ('sup_ips', '{:.1f}'),
        ('overhead_ratio', '{:.3f}'), ('teacher_cost', '{:.2f}'),
        ('flop_ratio', '{:.2f}'), ('cost_vs_flops', '{:.2f}'),
        ('kdep_peak_mib', '{:.0f}'), ('bare_peak_mib', '{:.0f}'),
        ('sup_peak_mib', '{:.0f}')]
HEADERS = [
    'pair', 'mode', 'input', '(1) KDEP img/s', '(2) bare img/s',
    '(3) sup img/s', '1/2', 'step 1 : 3', 'FLOP ratio', 'cost / FLOPs',
    'peak MiB (1)', 'peak MiB (2)', 'peak MiB (3)'
]


def format_row(row: Dict) -> str:
    return '| ' + ' | '.join(fmt.format(row[k]) for k, fmt in COLS) + ' |'


def markdown(result: Dict) -> str:
    s = result['settings']
    h = result['hardware']
    dev = h.get('gpu') or f"{h['cpu']} ({h['cpu_count']} cores, " \
        f"{h['torch_threads']} torch threads)"
    lines = [
        f"# KDEP throughput: {dev}", '',
        f"torch {h['torch']}, mmengine {h['mmengine']}, mmpretrain "
        f"{h['mmpretrain']}, python {h['python']}; {s['size']} px, batch "
        f"{s['batch']}, {s['iters']} timed iterations x {s['repeats']} "
        f"interleaved repeats (median), {s['warmup']} warm-up; AMP dtype "
        f"{s['amp_dtype']}; load average at start {h.get('loadavg_start')}, "
        f"at end {h.get('loadavg_end')}.", '',
        '| ' + ' | '.join(HEADERS) + ' |', '|' + '---|' * len(HEADERS)
    ]
    lines += [format_row(r) for r in result['rows']]
    if result.get('loader'):
        lines += [
            '', 'Data pipeline alone (JPEG decode + augmentation, '
            f"{s['workers']} workers): "
            f"{result['loader']['ips']:.1f} img/s."
        ]
    f = result['flops']
    lines += [
        '', 'GFLOP per image (forward counted, multiply-add = 2; '
        'training step = forward + 2 x forward for the backward):'
    ]
    for pair, v in f.items():
        lines.append(
            f"- {pair}: teacher forward {v['teacher_fwd'] / 1e9:.3f}, "
            f"student forward {v['student_fwd'] / 1e9:.3f}; KDEP step "
            f"{v['kdep_step'] / 1e9:.3f}, supervised step "
            f"{v['sup_step'] / 1e9:.3f}, ratio {v['ratio_counted']:.2f} "
            f"(without the linear head: {v['ratio_3fwd']:.2f})")
    if result.get('teacher_mode'):
        lines += [
            '', 'Teacher grad mode (img/s):', '',
            '| mode | teacher fwd no_grad | teacher fwd inference_mode'
            ' | bare step no_grad | bare step inference_mode |',
            '|---|---|---|---|---|'
        ]
        for r in result['teacher_mode']:
            lines.append(f"| {r['mode']} | {r['teacher_no_grad']:.1f} | "
                         f"{r['teacher_inference_mode']:.1f} | "
                         f"{r['step_no_grad']:.1f} | "
                         f"{r['step_inference_mode']:.1f} |")
    return '\n'.join(lines) + '\n'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='auto', help='cpu, cuda or auto')
    p.add_argument(
        '--size',
        type=int,
        default=None,
        help='image size (default: 224 on GPU, 64 on CPU)')
    p.add_argument(
        '--batch',
        type=int,
        default=None,
        help='batch size (default: 256 on GPU, 32 on CPU)')
    p.add_argument(
        '--iters', type=int, default=5, help='timed iterations per repeat')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='interleaved repeats (the median is reported)')
    p.add_argument(
        '--pairs', nargs='+', default=list(PAIRS), choices=list(PAIRS))
    p.add_argument(
        '--modes', nargs='+', default=list(MODES), choices=list(MODES))
    p.add_argument(
        '--data-modes',
        nargs='*',
        default=['fp32', 'amp_cl'],
        choices=list(MODES),
        help='modes run on the JPEG pipeline (none: skip it)')
    p.add_argument(
        '--amp-dtype', default='auto', choices=['auto', 'bfloat16', 'float16'])
    p.add_argument(
        '--num-images',
        type=int,
        default=256,
        help='JPEG files generated for the pipeline runs')
    p.add_argument(
        '--workers',
        type=int,
        default=None,
        help='DataLoader workers (default: min(8, cpu count))')
    p.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the student and teacher (the model option '
        'compile=True; the warm-up then includes compiling)')
    p.add_argument(
        '--no-teacher-mode-check',
        action='store_true',
        help='skip the no_grad vs inference_mode comparison')
    p.add_argument('--out-dir', default='benchmarks/results')
    p.add_argument('--tag', default=None, help='output file name stem')
    args = p.parse_args()
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    gpu = args.device.startswith('cuda')
    args.size = args.size or (224 if gpu else 64)
    args.batch = args.batch or (256 if gpu else 32)
    args.workers = args.workers if args.workers is not None else min(
        8,
        os.cpu_count() or 1)
    return args


def main():
    args = parse_args()
    init_default_scope('mmpretrain')
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    hw = hardware(device)
    settings = {
        k: v
        for k, v in vars(args).items() if k not in ('out_dir', 'tag')
    }
    settings['amp_dtype'] = str(amp_dtype(device, args.amp_dtype)).replace(
        'torch.', '')
    print(json.dumps(dict(hardware=hw, settings=settings), indent=1))
    print('| ' + ' | '.join(HEADERS) + ' |', flush=True)
    rows, flops, loader_info, teacher_rows = [], {}, None, []
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = make_teacher_checkpoint(tmp)
        for pair in args.pairs:
            rows += run_pair(pair, args, device, ckpt, flops)
        if args.data_modes:
            root = osp.join(tmp, 'jpegs')
            make_jpegs(root, args.num_images, args.size)
            loader = build_loader(root, args.size, args.batch, args.workers,
                                  device)
            it = cycle(loader)
            for _ in range(2):
                next(it)
            t0 = time.perf_counter()
            n = max(1, args.iters * args.repeats)
            for _ in range(n):
                next(it)
            loader_info = dict(ips=n * args.batch / (time.perf_counter() - t0))
            print(
                f"data pipeline alone: {loader_info['ips']:.1f} img/s",
                flush=True)
            for pair in args.pairs:
                rows += run_pair(pair, args, device, ckpt, flops, loader)
            del it, loader
        if not args.no_teacher_mode_check:
            teacher_rows = teacher_mode_check(args, device, ckpt)
    if hasattr(os, 'getloadavg'):
        hw['loadavg_end'] = os.getloadavg()
    result = dict(
        hardware=hw,
        settings=settings,
        rows=rows,
        flops=flops,
        loader=loader_info,
        teacher_mode=teacher_rows,
        command=' '.join([sys.executable] + sys.argv))
    os.makedirs(args.out_dir, exist_ok=True)
    tag = args.tag or f'{device.type}_{args.size}px_b{args.batch}' + (
        '_compile' if args.compile else '')
    md = markdown(result)
    print()
    print(md)
    save_results(args.out_dir, tag, md, result)


if __name__ == '__main__':
    main()
