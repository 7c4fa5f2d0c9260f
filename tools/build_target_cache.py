"""Build a cache of teacher targets from a KDEP pre-training config: the
teacher is paid once, students train from the cache (``model.cache=``).

    python tools/build_target_cache.py configs/kdep/<config>.py \\
        --out data/cache/r50_in1k-10pct --crops 10 [--dim 512] \\
        [--dense-dim 64] [--dense-grid 7] [--basis kdep_basis.pth] \\
        [--launcher pytorch]

Every online term of the config becomes a column: the pooled term's
projection on the top-r directions (``--dim``, default the student's k)
and each map term's projected map on its top-r_l directions
(``--dense-dim``, default k_l) on the teacher's grid (``--dense-grid`` N:
at most N x N). The bases come from ``--basis``, from the folder of an
interrupted build, or one teacher pass (then saved there). R crops per
image (``--crops``), the teacher in batches of ``--batch`` crops across
images, shards of ``--shard-size`` images (shard s belongs to rank s mod
world size); finished shards are skipped, so an interrupted build resumes
where it stopped. The format and the code: :mod:`kdep_mm.datasets.
target_cache`.
"""
import argparse
import os.path as osp
import shlex
import sys

import torch
from mmengine.dist import barrier, is_main_process
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

from kdep_mm.basis import ensure_basis, read_slots
from kdep_mm.datasets.pool import dataset_paths, pool_id
from kdep_mm.datasets.replay_crop import crop_recipe
from kdep_mm.datasets.target_cache.build import (basis_digest, build_shards,
                                                 projections)
from kdep_mm.datasets.target_cache.writer import CacheWriter, cache_identity
from kdep_mm.models import Distiller
from kdep_mm.utils.cli import add_common_args, offline_setup


def recipe_of(pipeline) -> dict:
    """The crop recipe of a training pipeline (its random-resized crop and
    flip; everything else stays in the students' pipelines)."""
    rrc = [t for t in pipeline if t['type'] == 'RandomResizedCrop']
    if len(rrc) != 1:
        raise SystemExit('the training pipeline must have one '
                         'RandomResizedCrop to cache its crops')
    flips = [t for t in pipeline if t['type'] == 'RandomFlip']
    t = rrc[0]
    scale = t['scale'] if isinstance(t['scale'], int) else t['scale'][0]
    return crop_recipe(scale, t.get('crop_ratio_range', (0.08, 1.0)),
                       t.get('aspect_ratio_range', (3. / 4., 4. / 3.)),
                       flips[0].get('prob', 0.5) if flips else 0.0,
                       t.get('interpolation', 'bilinear'))


def columns_of(model, records, args, scale: int) -> tuple:
    """Per cached column: its record (dim, rank, d_t, taps, grid) and the
    grid it is stored at (None: the teacher's own at the crop size)."""
    columns, grids = {}, {}
    param = next(model.backbone.parameters())
    with torch.no_grad():
        probe = model.teacher_outputs(
            torch.zeros(1, 3, scale, scale, device=param.device))
    for term in model.terms:
        rec = records[term.name]['meta']
        dim = (args.dense_dim if term.is_map else args.dim) or term.align.k
        have = records[term.name]['basis'].shape[1]
        if dim > have:
            raise SystemExit(f'{term.name}: {dim} directions asked '
                             f'(--dim / --dense-dim), the basis has {have}')
        col = dict(
            dim=dim,
            rank=int(rec['rank']),
            d_t=int(rec['d_t']),
            teacher_tap=rec['teacher_tap'],
            stride=term.stride)
        if term.teacher:  # several: its teacher, and what its spread needs
            col.update(
                teacher=term.teacher,
                spectrum=records[term.name]['spectrum'][:dim].tolist(),
                rows=int(rec['num_images']))
        if term.is_map:
            grid = list(probe[term.name].shape[-2:])
            if args.dense_grid and max(grid) > args.dense_grid:
                grid = [min(g, args.dense_grid) for g in grid]
                grids[term.name] = tuple(grid)
            col.update(teacher_stride=term.info['teacher_stride'], grid=grid)
        columns[term.name] = col
    return columns, grids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='the cache folder')
    parser.add_argument('--crops', type=int, default=10, help='R per image')
    parser.add_argument(
        '--dim', type=int, default=None, help='r directions (default: k)')
    parser.add_argument(
        '--dense-dim',
        type=int,
        default=None,
        help='r_l directions per map term (default: its k)')
    parser.add_argument(
        '--dense-grid',
        type=int,
        default=None,
        help='store maps at most N x N (coarser than the teacher grid)')
    parser.add_argument('--basis', default=None, help='a basis file to use')
    parser.add_argument(
        '--basis-other-pool',
        metavar='REASON',
        help='use --basis although it was computed from other images than '
        "the config's pool (refused otherwise); REASON is logged")
    parser.add_argument('--shard-size', type=int, default=1000)
    parser.add_argument(
        '--batch', type=int, default=256, help='crops per teacher batch')
    parser.add_argument('--seed', type=int, default=0, help='crop seed')
    add_common_args(parser)
    args = parser.parse_args(argv)
    cfg, seed = offline_setup(args)
    cfg.model.basis_file = None
    logger = MMLogger.get_instance('kdep_build_cache', log_level='INFO')
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
        if not isinstance(model, Distiller) or not model.terms or any(
                name not in model.basis_slots()
                for name in (t.name for t in model.terms)):
            raise SystemExit(f'{args.config} does not build a KDEP model '
                             'whose terms all read the teacher with an SVD '
                             '+ PTS target: nothing to cache')
        if torch.cuda.is_available():
            model = model.cuda()
        dataset = DATASETS.build(
            dict(cfg.train_dataloader.dataset, pipeline=[]))
        paths = dataset_paths(dataset)
        work_file = osp.join(args.out, 'kdep_basis.pth')
        path = ensure_basis(
            model,
            lambda: Runner.build_dataloader(cfg.train_dataloader, seed=seed),
            basis_file=args.basis,
            work_file=work_file,
            data=pool_id(paths),
            logger=logger,
            other_pool=args.basis_other_pool,
            fix='Give --basis a basis file of this teacher, tap and width, or '
            'leave --basis out to compute one into the cache folder.')
    records = read_slots(path)
    recipe = recipe_of(cfg.train_dataloader.dataset.pipeline)
    columns, grids = columns_of(model, records, args, recipe['scale'])
    proj = projections(records, {n: c['dim'] for n, c in columns.items()})
    device = next(model.backbone.parameters()).device
    proj = {n: a.to(device) for n, a in proj.items()}
    identity = cache_identity(model.teacher_meta, basis_digest(proj), paths,
                              recipe, columns, args.crops, args.shard_size,
                              args.seed)
    # how to rebuild a shard, named by the checks at training start
    identity['build_command'] = ' '.join(
        ['python', 'tools/build_target_cache.py'] +
        [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    writer = CacheWriter(args.out, identity, paths)
    writer.check_resume()
    barrier()
    if is_main_process():
        writer.write_identity()
    build_shards(model, dataset, writer, proj, grids, args.crops, args.batch,
                 args.seed, logger)
    barrier()
    if is_main_process():
        writer.finish()
        logger.info(f'target cache written to {args.out}')


if __name__ == '__main__':
    main()
