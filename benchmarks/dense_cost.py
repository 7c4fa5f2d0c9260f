"""What dense targets cost: the Dense KDEP training step against pooled
KDEP, in one run.

ResNet-50 -> ResNet-18 (random weights and a random orthonormal basis per
target: the cost does not depend on them), the configs' stages (C3-C5,
strides 8 / 16 / 32), three methods timed interleaved (A B C A B C ...,
median of the repeats) through ``model.train_step`` with mmengine's
optimiser wrapper, on one uint8 batch in memory:

1. ``pooled``: :class:`kdep_mm.models.KDEP` (the paper's target);
2. ``pooled+dense``: :class:`kdep_mm.models.DenseKDEP`, pooled=True;
3. ``dense``: DenseKDEP, pooled=False.

The ratio column is pooled img/s over each method's img/s (the step-time
ratio to pooled KDEP)::

    python benchmarks/dense_cost.py --device cpu --size 64 --batch 32
    python benchmarks/dense_cost.py --device cuda --size 224 --batch 256 \
        --iters 30 --warmup 10 --amp
"""
import tempfile

import torch
# run as a script: its folder is on sys.path
from bench_common import (amp_dtype, hardware, machine, save_results,
                          step_parser, time_train_steps)
from bench_models import (PAIRS, build_kdep, make_teacher_checkpoint,
                          optim_wrapper_cfg, random_basis)
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

STAGES = [dict(stride=s, loss_weight=20 / 3) for s in (8, 16, 32)]


def build_dense(student: dict, ckpt: str, size: int, pooled: bool,
                device: torch.device):
    model = MODELS.build(
        dict(
            type='DenseKDEP',
            backbone=student,
            teacher=dict(model=dict(type='ResNet', depth=50), checkpoint=ckpt),
            loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0),
            probe_size=min(size, 64),
            dense=STAGES,
            pooled=pooled))
    for i, align in enumerate(model.basis_slots().values()):
        random_basis(align, i)
    return model.to(device)


def main():
    p = step_parser(__doc__)
    p.add_argument('--amp', action='store_true')
    args = p.parse_args()
    device = torch.device(args.device)
    init_default_scope('mmpretrain')
    student, _, lr = PAIRS['r50-r18']
    dtype = amp_dtype(device, 'auto')
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = make_teacher_checkpoint(tmp)
        models = {
            'pooled': build_kdep(student, 20.0, ckpt, args.size, False,
                                 device),
            'pooled+dense': build_dense(student, ckpt, args.size, True,
                                        device),
            'dense': build_dense(student, ckpt, args.size, False, device),
        }
    g = torch.Generator().manual_seed(0)
    data = dict(
        inputs=torch.randint(
            0,
            256, (args.batch, 3, args.size, args.size),
            generator=g,
            dtype=torch.uint8).to(device))
    hw = hardware(device)  # load average at the start
    res = time_train_steps(models, lambda name: data,
                           optim_wrapper_cfg(lr, args.amp, dtype), args,
                           device, hw)
    base = res['pooled']['ips_median']
    where = machine(hw)
    lines = [
        f'# Dense KDEP step cost: {where}, torch {hw["torch"]}', '',
        f'ResNet-50 -> ResNet-18, {args.size} px, batch {args.batch}, '
        f'{"AMP " + str(dtype) if args.amp else "fp32"}, dense stages at '
        f'strides 8/16/32; median of {args.repeats} interleaved blocks of '
        f'{args.iters} steps; load average at start '
        f'{hw.get("loadavg_start")}, at end {hw.get("loadavg_end")}.', '',
        '| method | img/s | step time / pooled KDEP | peak memory (MiB) |',
        '|---|---|---|---|'
    ]
    for name, r in res.items():
        lines.append(f"| {name} | {r['ips_median']:.1f} | "
                     f"{base / r['ips_median']:.2f} | {r['peak_mib']:.0f} |")
    md = '\n'.join(lines) + '\n'
    print(md)
    tag = f'dense_{args.device.split(":")[0]}_{args.size}px_b{args.batch}' + (
        '_amp' if args.amp else '')
    save_results(args.out_dir, tag, md,
                 dict(hardware=hw, settings=vars(args), results=res))


if __name__ == '__main__':
    main()
