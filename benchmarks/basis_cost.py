"""Cost of the KDEP basis: streaming covariance against a full SVD.

The reference code holds the whole N x D_t teacher feature matrix and runs
an SVD on it; :class:`kdep_mm.basis.StreamingCovariance` accumulates
float64 ``sum x`` and ``sum x x^T`` chunk by chunk (memory O(D_t^2),
independent of N) and eigen-decomposes the scatter matrix. This script
measures both on the same synthetic features (low rank with a decaying
spectrum, plus noise, generated in seeded chunks, so the streaming path
never materialises N x D_t and the reference path does) and checks that
they give the same basis: principal angles between the top-k subspaces,
projector distance, per-direction cosines and the singular values.

Each method runs in its own subprocess, so its peak resident memory
(``ru_maxrss``) is its own; a subprocess that only imports torch and
generates one chunk gives the baseline that is subtracted.

    python benchmarks/basis_cost.py --n 100000 --dim 2048 --k 512

The map case of dense targets (one row per location: N images x L
locations), e.g. ResNet-50's stride-16 map at 224 px (14 x 14, 1024-d)::

    python benchmarks/basis_cost.py --n 1000 --locations 196 --dim 1024 \
        --k 256
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterator

import torch


# ------------------------------------------------------------- features
def signal_model(dim: int, rank: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, rank, generator=g))
    scale = 3.0 * torch.arange(1, rank + 1, dtype=torch.float32).pow(-0.75)
    mean = torch.randn(dim, generator=g)
    return q, scale, mean


def chunks(n: int, dim: int, rank: int, chunk: int, noise: float,
           seed: int) -> Iterator[torch.Tensor]:
    """Feature rows ``mean + (z * scale) @ Q^T + noise``, chunk by chunk,
    each chunk seeded by its index (identical for every method)."""
    q, scale, mean = signal_model(dim, rank, seed)
    for i, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        g = torch.Generator().manual_seed(seed * 100003 + i + 1)
        z = torch.randn(m, rank, generator=g) * scale
        yield torch.addmm(mean, z, q.T).add_(
            torch.randn(m, dim, generator=g), alpha=noise)


# --------------------------------------------------------------- workers
def run_method(args) -> Dict:
    """Inside the subprocess: one method, timed; result saved to a file."""
    from kdep_mm.basis import StreamingCovariance
    torch.set_num_threads(args.threads or torch.get_num_threads())
    t_gen = 0.0
    t0 = time.perf_counter()
    it = chunks(args.n, args.dim, args.rank, args.chunk, args.noise, args.seed)
    out = {}
    if args.method == 'baseline':
        next(it)
    elif args.method == 'stream':
        stats = StreamingCovariance(args.dim)
        while True:
            tg = time.perf_counter()
            x = next(it, None)
            t_gen += time.perf_counter() - tg
            if x is None:
                break
            stats.update(x)
        res = stats.decompose()
        out = dict(
            mean=res['mean'],
            basis=res['basis'][:, :args.k],
            spectrum=res['spectrum'])
    elif args.method == 'svd':
        tg = time.perf_counter()
        feats = torch.cat(list(it))  # N x D_t, as the reference holds it
        t_gen += time.perf_counter() - tg
        mean = feats.mean(0)
        feats -= mean
        _, s, vh = torch.linalg.svd(feats, full_matrices=False)
        out = dict(mean=mean, basis=vh[:args.k].T.contiguous(), spectrum=s)
    total = time.perf_counter() - t0
    if out:
        torch.save(out, args.result)
    return dict(
        method=args.method,
        n=args.n,
        seconds_total=total,
        seconds_generate=t_gen,
        seconds_basis=total - t_gen,
        maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def spawn(args, method: str, n: int, result: str) -> Dict:
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--worker', '--method', method, '--n',
        str(n), '--dim',
        str(args.dim), '--k',
        str(args.k), '--rank',
        str(args.rank), '--chunk',
        str(args.chunk), '--noise',
        str(args.noise), '--seed',
        str(args.seed), '--result', result
    ]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'{method} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------ comparison
def compare(a: Dict, b: Dict, k: int) -> Dict:
    va, vb = a['basis'].double(), b['basis'].double()
    # sin of the largest principal angle = || (I - P_b) V_a ||_2 (exact
    # for small angles, unlike arccos of the cosines).
    sin = torch.linalg.matrix_norm(va - vb @ (vb.T @ va), ord=2)
    angle = float(torch.rad2deg(torch.arcsin(sin.clamp(max=1.0))))
    pa, pb = va @ va.T, vb @ vb.T
    per_dir = (va * vb).sum(0).abs()
    sa, sb = a['spectrum'][:k].double(), b['spectrum'][:k].double()
    return dict(
        max_principal_angle_deg=angle,
        projector_distance=float(torch.linalg.norm(pa - pb) / (2 * k)**0.5),
        min_abs_cos_top64=float(per_dir[:64].min()),
        min_abs_cos_all=float(per_dir.min()),
        spectrum_max_rel_diff=float(((sa - sb).abs() / sb).max()),
        mean_max_abs_diff=float((a['mean'] - b['mean']).abs().max()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=100000, help='images N')
    p.add_argument(
        '--locations',
        type=int,
        default=1,
        help='rows per image (1: the pooled target; H x W: a dense map)')
    p.add_argument('--dim', type=int, default=2048, help='D_t')
    p.add_argument(
        '--k',
        type=int,
        default=512,
        help='directions compared (the student width)')
    p.add_argument(
        '--rank', type=int, default=1024, help='rank of the synthetic signal')
    p.add_argument('--noise', type=float, default=0.05)
    p.add_argument(
        '--chunk',
        type=int,
        default=4096,
        help='rows per chunk (a teacher batch)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument(
        '--small-n',
        type=int,
        default=None,
        help='also run both methods at this N (default N / 10) '
        'to show how memory grows with N; 0 to skip')
    p.add_argument('--out-dir', default='benchmarks/results')
    p.add_argument('--tag', default=None)
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--method', help=argparse.SUPPRESS)
    p.add_argument('--result', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(run_method(args)))
        return

    small = args.n // 10 if args.small_n is None else args.small_n
    ns = [n for n in (small, args.n) if n]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = spawn(args, 'baseline', args.chunk, osp.join(tmp, 'b.pt'))
        print(
            f"baseline (imports + one chunk): {base['maxrss_mib']:.0f} MiB",
            flush=True)
        results = {}
        for n in ns:
            for method in ('stream', 'svd'):
                path = osp.join(tmp, f'{method}_{n}.pt')
                r = spawn(args, method, n * args.locations, path)
                r['images'] = n
                r['peak_over_baseline_mib'] = r['maxrss_mib'] - base[
                    'maxrss_mib']
                rows.append(r)
                print(
                    f"{method:6s} N={n:>7d}: basis {r['seconds_basis']:.1f} s"
                    f" (+ {r['seconds_generate']:.1f} s generating), peak "
                    f"RSS {r['maxrss_mib']:.0f} MiB "
                    f"(+{r['peak_over_baseline_mib']:.0f} over baseline)",
                    flush=True)
                results[(method, n)] = torch.load(path)
        agreement = {
            n: compare(results[('stream', n)], results[('svd', n)], args.k)
            for n in ns
        }
    for n, c in agreement.items():
        print(f'agreement at N={n}: ' + ', '.join(f'{k} {v:.3g}'
                                                  for k, v in c.items()))
    settings = {
        k: v
        for k, v in vars(args).items()
        if k not in ('worker', 'method', 'result', 'out_dir', 'tag')
    }
    hw = dict(
        platform=platform.platform(),
        torch=torch.__version__,
        cpu_count=os.cpu_count(),
        torch_threads=args.threads or torch.get_num_threads())
    try:
        with open('/proc/cpuinfo') as f:
            hw['cpu'] = next(
                ln.split(':', 1)[1].strip() for ln in f
                if ln.startswith('model name'))
    except (OSError, StopIteration):
        hw['cpu'] = platform.processor()
    if hasattr(os, 'getloadavg'):
        hw['loadavg_end'] = os.getloadavg()
    result = dict(
        hardware=hw,
        settings=settings,
        baseline_mib=base['maxrss_mib'],
        rows=rows,
        agreement={
            str(n): c
            for n, c in agreement.items()
        },
        command=' '.join([sys.executable] + sys.argv))
    lines = [
        f"# KDEP basis cost: {hw['cpu']} ({hw['cpu_count']} cores), torch "
        f"{hw['torch']}", '',
        f"D_t = {args.dim}, k = {args.k}, synthetic rank {args.rank} + noise "
        f"{args.noise}, chunks of {args.chunk} rows; peak memory = the "
        f"subprocess's ru_maxrss minus a baseline of "
        f"{base['maxrss_mib']:.0f} MiB (imports + one chunk).", '',
        f'Rows per image: {args.locations} (1: pooled; H x W: a map).', '',
        '| method | images | rows | basis time (s) | generating (s) | peak '
        'over baseline (MiB) |', '|---|---|---|---|---|---|'
    ]
    for r in rows:
        name = ('streaming covariance (float64) + eigh' if r['method']
                == 'stream' else 'N x D_t matrix + torch.linalg.svd')
        lines.append(f"| {name} | {r['images']} | {r['n']} | "
                     f"{r['seconds_basis']:.1f} | "
                     f"{r['seconds_generate']:.1f} | "
                     f"{r['peak_over_baseline_mib']:.0f} |")
    lines += [
        '', '| N | max principal angle (deg) | projector distance | '
        'min abs cos (top 64 / all k) | spectrum max rel. diff |',
        '|---|---|---|---|---|'
    ]
    for n, c in agreement.items():
        lines.append(f"| {n} | {c['max_principal_angle_deg']:.3g} | "
                     f"{c['projector_distance']:.3g} | "
                     f"{c['min_abs_cos_top64']:.6f} / "
                     f"{c['min_abs_cos_all']:.4f} | "
                     f"{c['spectrum_max_rel_diff']:.3g} |")
    md = '\n'.join(lines) + '\n'
    os.makedirs(args.out_dir, exist_ok=True)
    tag = args.tag or f'basis_cost_n{args.n}_d{args.dim}' + (
        f'_l{args.locations}' if args.locations > 1 else '')
    with open(osp.join(args.out_dir, tag + '.md'), 'w') as f:
        f.write(md)
    with open(osp.join(args.out_dir, tag + '.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print()
    print(md)


if __name__ == '__main__':
    main()
