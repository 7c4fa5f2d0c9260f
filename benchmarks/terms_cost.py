"""What the terms cost: the KDEP step of pooled KDEP online, pooled + dense
online, pooled + dense from a target cache (no teacher in memory) and the
supervised step of the same student, interleaved in one run.

Two teachers with random weights (speed does not depend on them):
ResNet-50 (the paper's) and ViT-B/16 (a teacher people use now; about 4x
ResNet-50's FLOPs at 224 px), each -> ResNet-18 with map terms at strides
8, 16, 32; one uint8 batch in memory (compute only: with JPEG decoding
every mode pays the same loader). The cached targets are random float16
tensors of the shapes a cache of the ResNet-50 teacher holds (pooled r =
512; maps r_l = k_l on the teacher grid), stacked per column as the cached
configs' ``kdep_collate`` delivers them (pinned on a GPU): the step copies
them to the device (``KDEPDataPreprocessor``), as a training step does.
Target: the cached pooled + dense step within 1.15x of the supervised
step::

    python benchmarks/terms_cost.py --device cpu --size 64 --batch 32
    python benchmarks/terms_cost.py --device cuda --size 224 --batch 256 \\
        --iters 30 --warmup 10

``--teacher-scale 2`` adds pooled + dense online with each teacher at
twice the student's resolution (``teacher_scale``).
"""
import json
import os.path as osp
import tempfile

import torch
# run as a script: its folder is on sys.path
from bench_common import (fake_samples, hardware, machine, save_results,
                          step_parser, time_train_steps)
from bench_models import (PAIRS, build_supervised, optim_wrapper_cfg,
                          random_basis)
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

TEACHERS = {
    'r50': dict(type='ResNet', depth=50),
    'vit-b16': dict(type='VisionTransformer', arch='base', patch_size=16),
}
STRIDES = (8, 16, 32)
#: ResNet-18's widths at strides 8 / 16 / 32 (k_l of a ResNet-50 teacher).
WIDTHS = {8: 128, 16: 256, 32: 512}
DENSE = [dict(stride=s, weight=20 / 3) for s in STRIDES]


def teacher_cfg(name: str, size: int, tmp: str) -> dict:
    """A random-weight teacher saved to a file (its config and path)."""
    torch.manual_seed(0)
    model = dict(TEACHERS[name])
    if 'arch' in model:
        model['img_size'] = size
    path = osp.join(tmp, f'{name}.pth')
    torch.save(MODELS.build(model).state_dict(), path)
    return dict(model=model, checkpoint=path)


def online(student: dict,
           teacher: dict,
           size: int,
           dense: bool,
           device,
           scale: float = 1.0):
    """Pooled (or pooled + dense) KDEP with the teacher online (at
    ``scale`` times the student's resolution) and a random orthonormal
    basis in every term."""
    terms = [dict(weight=20.0)] + (DENSE if dense else [])
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            teacher=teacher,
            terms=terms,
            teacher_scale=scale,
            probe_size=min(size, 64)))
    for i, align in enumerate(model.basis_slots().values()):
        random_basis(align, i)
    return model.to(device)


def write_manifest(folder: str, columns: dict, teacher: dict) -> None:
    """A cache manifest with these columns and no shards (the benchmark
    feeds the targets with the batch)."""
    with open(osp.join(folder, 'manifest.json'), 'w') as f:
        json.dump(
            dict(
                format='kdep_target_cache/3',
                columns=columns,
                teacher=teacher,
                basis_sha256='-',
                crops_per_image=1,
                shard_size=1), f)


def cached(student: dict, size: int, tmp: str, dense: bool, device):
    """Pooled (+ dense) KDEP reading a cache (a manifest of the shapes a
    ResNet-50 teacher's cache has; the targets come with the batch)."""
    columns = dict(
        pooled=dict(dim=512, rank=512, d_t=2048, teacher_tap='-', stride=None))
    for s in STRIDES:
        side = -(-size // s)
        columns[f'dense_s{s}'] = dict(
            dim=WIDTHS[s],
            rank=WIDTHS[s],
            d_t=WIDTHS[s] * 4,
            teacher_tap='-',
            stride=s,
            teacher_stride=s,
            grid=[side, side])
    write_manifest(tmp, columns, {})
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            cache=tmp,
            terms=[dict(weight=20.0)] + (DENSE if dense else []),
            probe_size=min(size, 64)))
    return model.to(device), columns


def setup(args):
    """The device, the ResNet-18 student config, its lr, the hardware
    record, a seeded generator and one uint8 input batch."""
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
    return device, student, lr, hw, g, x


def main():
    p = step_parser(__doc__)
    p.add_argument('--teachers', default='r50,vit-b16')
    p.add_argument(
        '--teacher-scale',
        type=float,
        default=None,
        help='also time pooled + dense online with each teacher at this '
        'times the student resolution (teacher_scale)')
    args = p.parse_args()
    device, student, lr, hw, g, x = setup(args)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.teachers.split(','):
            teacher = teacher_cfg(name, args.size, tmp)
            models[f'pooled, online ({name})'] = online(
                student, teacher, args.size, False, device)
            models[f'pooled + dense, online ({name})'] = online(
                student, teacher, args.size, True, device)
            if args.teacher_scale:
                scale = args.teacher_scale
                big = teacher_cfg(name, int(round(args.size * scale)), tmp)
                models[f'pooled + dense, online ({name}, teacher at '
                       f'{scale:g}x)'] = online(student, big, args.size, True,
                                                device, scale)
        models['pooled, cached'], _ = cached(student, args.size, tmp, False,
                                             device)
        models['pooled + dense, cached'], columns = cached(
            student, args.size, tmp, True, device)
    models['supervised'] = build_supervised(student, False, device)
    report(models, columns, x, g, lr, args, device, hw,
           f'# KDEP terms step cost: {machine(hw)}, torch {hw["torch"]}',
           f'ResNet-18 student, {args.size} px', 'terms')


def report(models: dict, columns: dict, x: torch.Tensor, g: torch.Generator,
           lr: float, args, device, hw: dict, title: str, setting: str,
           tag: str) -> None:
    """Time ``models`` interleaved (a ``cached`` one fed the ``columns`` as
    the loader delivers them with the cached configs' ``kdep_collate``: one
    float16 tensor per column, stacked in the workers, pinned on a GPU
    machine), print the table and save it as ``<tag>_<device>_...``."""
    stacked = {
        name:
        torch.randn(args.batch, c['dim'], *c.get('grid', []),
                    generator=g).half()
        for name, c in columns.items()
    }
    if device.type == 'cuda':
        stacked = {n: v.pin_memory() for n, v in stacked.items()}

    def data_of(name):
        data = dict(inputs=x, data_samples=fake_samples(args.batch))
        if 'cached' in name:
            data['kdep_targets'] = stacked
        return data

    res = time_train_steps(models, data_of, optim_wrapper_cfg(lr, False, None),
                           args, device, hw)
    sup = res['supervised']['ips_median']
    lines = [
        title, '', f'{setting}, batch {args.batch}, fp32, in memory; median '
        f'of {args.repeats} interleaved blocks of {args.iters} steps; load '
        f'average at start {hw.get("loadavg_start")}, at end '
        f'{hw.get("loadavg_end")}.', '',
        '| method | img/s | step time / supervised |', '|---|---|---|'
    ]
    for name, r in res.items():
        ips = r['ips_median']
        lines.append(f'| {name} | {ips:.1f} | {sup / ips:.2f} |')
    md = '\n'.join(lines) + '\n'
    print(md)
    save_results(
        args.out_dir,
        f'{tag}_{args.device.split(":")[0]}_{args.size}px_b{args.batch}', md,
        dict(hardware=hw, settings=vars(args), results=res))


if __name__ == '__main__':
    main()
