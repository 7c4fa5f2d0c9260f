"""What a target cache saves: the KDEP step with the teacher online, from a
cache (``CachedKDEP``: no teacher), and the supervised step of the same
student, interleaved in one run.

Two teachers with random weights (speed does not depend on them):
ResNet-50 (the paper's) and ViT-B/16 (a teacher people use now; about 4x
ResNet-50's FLOPs at 224 px), each -> ResNet-18, on one uint8 batch in
memory (compute only: with JPEG decoding both modes pay the same loader).
Target: the cached step within 10% of the supervised step::

    python benchmarks/cache_cost.py --device cpu --size 64 --batch 32
    python benchmarks/cache_cost.py --device cuda --size 224 --batch 256 \\
        --iters 30 --warmup 10
"""
import argparse
import json
import os
import os.path as osp
import tempfile

import torch
# run as a script: its folder is on sys.path
from bench_common import fake_samples, hardware, save_results, time_methods
from bench_models import PAIRS, build_supervised, optim_wrapper_cfg
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

TEACHERS = {
    'r50': dict(type='ResNet', depth=50),
    'vit-b16': dict(type='VisionTransformer', arch='base', patch_size=16),
}


def online(teacher: dict, student: dict, size: int, tmp: str, device):
    torch.manual_seed(0)
    path = osp.join(tmp, 'teacher.pth')
    torch.save(
        MODELS.build(
            dict(teacher, img_size=size) if 'arch' in
            teacher else teacher).state_dict(), path)
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            teacher=dict(
                model=dict(teacher, img_size=size)
                if 'arch' in teacher else teacher,
                checkpoint=path),
            loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0),
            probe_size=min(size, 64)))
    a = model.align
    basis, _ = torch.linalg.qr(torch.randn(a.d_t, a.k))
    a.set_basis(torch.zeros(a.d_t), basis, torch.linspace(10, 1, a.d_t), 1)
    return model.to(device)


def cached(student: dict, size: int, tmp: str, device):
    with open(osp.join(tmp, 'manifest.json'), 'w') as f:
        json.dump(dict(dim=512, rank=512, teacher={}), f)
    return MODELS.build(
        dict(
            type='CachedKDEP',
            backbone=student,
            cache=tmp,
            loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0),
            probe_size=min(size, 64))).to(device)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--teachers', default='r50,vit-b16')
    p.add_argument('--out-dir', default='benchmarks/results')
    args = p.parse_args()
    device = torch.device(args.device)
    init_default_scope('mmpretrain')
    student, _, lr = PAIRS['r50-r18']
    hw = hardware(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(
        0,
        256, (args.batch, 3, args.size, args.size),
        generator=g,
        dtype=torch.uint8).to(device)
    samples = fake_samples(args.batch)
    for s in samples:
        s.set_field(torch.randn(512, generator=g), 'kdep_target')
    methods, models = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.teachers.split(','):
            models[f'online ({name} teacher)'] = online(
                TEACHERS[name], student, args.size, tmp, device)
        models['cached'] = cached(student, args.size, tmp, device)
    models['supervised'] = build_supervised(student, False, device)
    for name, model in models.items():
        model.train()
        wrapper = build_optim_wrapper(model,
                                      optim_wrapper_cfg(lr, False, None))
        data = dict(inputs=x, data_samples=samples)
        methods[name] = (lambda m=model, w=wrapper, d=data: m.train_step(d, w)[
            'loss'].detach())
    res = time_methods(methods, args.batch, args.iters, args.warmup,
                       args.repeats, device)
    if hasattr(os, 'getloadavg'):
        hw['loadavg_end'] = os.getloadavg()
    sup = res['supervised']['ips_median']
    cache = res['cached']['ips_median']
    where = hw.get('gpu') or f"{hw['cpu']} ({hw['cpu_count']} cores)"
    lines = [
        f'# Target cache step cost: {where}, torch {hw["torch"]}', '',
        f'ResNet-18 student, {args.size} px, batch {args.batch}, fp32, in '
        f'memory; median of {args.repeats} interleaved blocks of '
        f'{args.iters} steps; load average at start '
        f'{hw.get("loadavg_start")}, at end {hw.get("loadavg_end")}.', '',
        '| method | img/s | step time / cached | step time / supervised |',
        '|---|---|---|---|'
    ]
    for name, r in res.items():
        ips = r['ips_median']
        lines.append(f'| {name} | {ips:.1f} | {cache / ips:.2f} | '
                     f'{sup / ips:.2f} |')
    md = '\n'.join(lines) + '\n'
    print(md)
    tag = f'cache_{args.device.split(":")[0]}_{args.size}px_b{args.batch}'
    save_results(args.out_dir, tag, md,
                 dict(hardware=hw, settings=vars(args), results=res))


if __name__ == '__main__':
    main()
