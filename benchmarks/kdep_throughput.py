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
import sys
import tempfile
from typing import Dict, List

import torch
# run as a script: its folder is on sys.path
from bench_common import (HEADERS, amp_dtype, fake_samples, format_row,
                          hardware, markdown, save_results, time_methods)
from bench_data import build_loader, cycle, loader_rate, make_jpegs
from bench_models import (MODES, PAIRS, BareKDEP, build_kdep, build_supervised,
                          count_flops, make_teacher_checkpoint,
                          optim_wrapper_cfg, teacher_mode_check)
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope


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
            n = max(1, args.iters * args.repeats)
            loader_info = dict(ips=loader_rate(loader, n, args.batch))
            print(
                f"data pipeline alone: {loader_info['ips']:.1f} img/s",
                flush=True)
            for pair in args.pairs:
                rows += run_pair(pair, args, device, ckpt, flops, loader)
            del loader
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
