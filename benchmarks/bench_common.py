"""Device, timing, memory and result helpers shared by the benchmarks.

The benchmarks time their steps interleaved (:func:`time_methods`,
:func:`time_train_steps`), record the machine with :func:`hardware` /
:func:`machine` and write their table with :func:`save_results`; the
throughput table's markdown (``COLS``, ``HEADERS``, :func:`format_row`,
:func:`markdown`) lives here too, to keep each script short.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

import mmengine
import mmpretrain
import torch
from mmpretrain.structures import DataSample


def step_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every step benchmark takes (device, input size,
    batch, timing blocks, output folder)."""
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out-dir', default='benchmarks/results')
    return p


def time_train_steps(models: Dict, data_of: Callable[[str],
                                                     Dict], wrapper_cfg: Dict,
                     args, device: torch.device, hw: Dict) -> Dict:
    """The training step of each model (``model.train_step`` on
    ``data_of(name)``, an optimiser built from ``wrapper_cfg``), timed
    interleaved (:func:`time_methods`); the load at the end goes to
    ``hw``."""
    from mmengine.optim import build_optim_wrapper
    methods = {}
    for name, model in models.items():
        model.train()
        wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
        methods[name] = (lambda m=model, w=wrapper, d=data_of(name): m.
                         train_step(d, w)['loss'].detach())
    res = time_methods(methods, args.batch, args.iters, args.warmup,
                       args.repeats, device)
    if hasattr(os, 'getloadavg'):
        hw['loadavg_end'] = os.getloadavg()
    return res


def machine(hw: Dict) -> str:
    """The GPU, or the CPU and its cores, for a table's title."""
    return hw.get('gpu') or f"{hw['cpu']} ({hw['cpu_count']} cores)"


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
