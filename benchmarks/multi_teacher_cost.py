"""What a second teacher costs: the KDEP step (pooled + dense at strides 8,
16, 32) with one teacher online, with two teachers online (each on its
half of the student's channels, standardised) and with the same two
teachers' targets from a cache (no teacher in memory), and the supervised
step of the same student, interleaved in one run.

Teachers with random weights (speed does not depend on them): ResNet-50
and ViT-B/16 by default (``--teachers``), -> ResNet-18; one uint8 batch in
memory (compute only). The cached targets are random float16 tensors of
the shapes a cache of the two teachers holds (each teacher's pooled and
map columns on its own grid, r = its slice of the student), stacked per
column as ``kdep_collate`` delivers them::

    python benchmarks/multi_teacher_cost.py --device cpu --size 64 --batch 16
    python benchmarks/multi_teacher_cost.py --device cpu --size 224 \\
        --batch 8 --iters 2 --warmup 1
    python benchmarks/multi_teacher_cost.py --device cuda --size 224 \\
        --batch 256 --iters 20 --warmup 10
"""
import tempfile

import torch
# run as a script: its folder is on sys.path
from bench_common import machine, step_parser
from bench_models import build_supervised
from mmpretrain.registry import MODELS
from terms_cost import (STRIDES, online, report, setup, teacher_cfg,
                        write_manifest)

TERMS = [dict(weight=20.0)] + [dict(stride=s, weight=20 / 3) for s in STRIDES]


def two_online(student: dict, teachers: list, size: int, device):
    """Two teachers online (``teachers=``), every basis random."""
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            teachers=teachers,
            terms=TERMS,
            probe_size=min(size, 64)))
    for i, align in enumerate(model.basis_slots().values()):
        g = torch.Generator().manual_seed(i)
        basis, _ = torch.linalg.qr(
            torch.randn(align.d_t, align.k, generator=g))
        align.set_basis(
            torch.zeros(align.d_t),
            basis,
            torch.linspace(2.0, 1.0, align.d_t),
            num_images=align.d_t + 1)
    return model.to(device)


def two_cached(student: dict, reference, tmp: str, device):
    """The same terms read from a cache: a manifest whose columns have
    the shapes of ``reference``'s (the online model) projections."""
    x = torch.zeros(1, 3, reference.probe_size, reference.probe_size)
    with torch.no_grad():
        feats = reference.cpu().teacher_outputs(x)
    columns = {}
    for term in reference.terms:
        col = dict(
            dim=term.align.k,
            rank=term.align.k,
            d_t=term.info['d_t'],
            teacher_tap='-',
            stride=term.stride,
            teacher=term.teacher,
            spectrum=[1.0] * term.align.k,
            rows=term.align.k + 1)
        if term.is_map:
            col.update(
                teacher_stride=term.stride,
                grid=list(feats[term.name].shape[-2:]))
        columns[term.name] = col
    write_manifest(
        tmp, columns,
        dict(teachers=[
            dict(name=t.name, fingerprint='-') for t in reference.teachers_list
        ]))
    model = MODELS.build(
        dict(
            type='KDEP',
            backbone=student,
            cache=tmp,
            teachers=[dict(name=t.name) for t in reference.teachers_list],
            terms=TERMS,
            probe_size=reference.probe_size))
    return model.to(device), columns


def main():
    p = step_parser(__doc__)
    p.add_argument('--teachers', default='r50,vit-b16')
    args = p.parse_args()
    device, student, lr, hw, g, x = setup(args)
    names = args.teachers.split(',')
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = [teacher_cfg(n, args.size, tmp) for n in names]
        for name, cfg in zip(names, cfgs):
            models[f'one teacher online ({name})'] = online(
                student, cfg, args.size, True, device)
        both = two_online(student,
                          [dict(cfg, name=n) for n, cfg in zip(names, cfgs)],
                          args.size, device)
        models[f"two teachers online ({' + '.join(names)})"] = both
        models['two teachers, cached'], columns = two_cached(
            student, both, tmp, device)
        both.to(device)
    models['supervised'] = build_supervised(student, False, device)
    report(
        models, columns, x, g, lr, args, device, hw,
        f'# KDEP with two teachers, step cost: {machine(hw)}, torch '
        f'{hw["torch"]}', f'ResNet-18 student, pooled + dense (strides '
        f'8/16/32), {args.size} px', 'multi_teacher')


if __name__ == '__main__':
    main()
