"""Build a cache of teacher targets from a KDEP pre-training config: the
teacher is paid once, students train from the cache (``CachedKDEP``).

    python tools/build_target_cache.py configs/kdep/<config>.py \\
        --out data/cache/r50_in1k-10pct --crops 10 [--dim 512] \\
        [--basis kdep_basis.pth] [--launcher pytorch]

Two teacher passes (batches of ``--batch`` crops across images): the basis
(``KDEPBasisHook``'s pass over the training pipeline, one crop per image;
skipped with ``--basis`` or when the output
folder has the basis of an interrupted build), then R crops per image,
each crop's pooled teacher feature centred and projected on the top-r
directions (before PTS) and stored as float16 with its crop box. Crop boxes
come from a generator seeded by (seed, image index), so a re-run or a
resumed build draws the same crops. Shards of ``--shard-size`` images
belong to rank shard mod world size; finished shards are skipped, so an
interrupted build resumes where it stopped; rank 0 writes the manifest when
every shard is there. The format: :mod:`kdep_mm.datasets.target_cache`.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.dist import barrier, get_rank, get_world_size, is_main_process
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.utils import ProgressBar
from mmpretrain.registry import DATASETS, MODELS

from kdep_mm.basis import (basis_meta, fit_basis, load_basis, load_basis_into,
                           save_model_basis)
from kdep_mm.datasets.replay_crop import apply_box, crop_recipe, sample_box
from kdep_mm.datasets.target_cache import (FORMAT, CacheError, check_manifest,
                                           pool_fingerprint, shard_done,
                                           write_shard)
from kdep_mm.datasets.transforms import LoadImageFromFileSafe
from kdep_mm.models import KDEP
from kdep_mm.utils.checkpoint import tensors_digest
from kdep_mm.utils.cli import add_common_args, offline_setup
from kdep_mm.utils.fileio import atomic_write


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


def the_basis(model, cfg, args, seed, out: str, logger) -> dict:
    """All D_t directions of the basis: from ``--basis``, from the folder
    of an interrupted build, or one teacher pass (then saved there)."""
    path = args.basis or osp.join(out, 'kdep_basis.pth')
    if osp.isfile(path):
        load_basis_into(model, path)
        logger.info(f'basis from {path}')
        return load_basis(path, expect=basis_meta(model))
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    result = fit_basis(model, loader, logger=logger)['pooled']
    if is_main_process():
        save_model_basis(model, dict(pooled=result), path)
    barrier()
    return result


def build_shard(model, dataset, loader_img, shard, start, stop, args, recipe,
                proj, bar) -> None:
    """The R crops of images ``start..stop-1``, teacher batches of
    ``--batch`` crops across images, written as one shard."""
    boxes, crops, targets = [], [], []

    def flush():
        inputs = model.data_preprocessor(dict(inputs=crops), False)['inputs']
        with torch.no_grad(), torch.autocast(
                device_type=inputs.device.type, enabled=False):
            f = model.extract_teacher_feat(inputs.float())
            z = (f - proj['mean']) @ proj['basis']
        targets.append(z.cpu().numpy().astype(np.float16))
        crops.clear()

    for index in range(start, stop):
        info = dataset.get_data_info(index)
        img = loader_img(dict(img_path=info['img_path']))['img']
        rng = np.random.default_rng([args.seed, index])
        b = [
            sample_box(rng, img.shape[0], img.shape[1], recipe)
            for _ in range(args.crops)
        ]
        boxes.append(np.asarray(b, dtype=np.int32))
        crops += [
            torch.from_numpy(apply_box(img, box, recipe)).permute(2, 0, 1)
            for box in b
        ]
        if len(crops) >= args.batch:
            flush()
        if bar is not None:
            bar.update()
    if crops:
        flush()
    z = np.concatenate(targets).reshape(stop - start, args.crops, -1)
    write_shard(args.out, shard, start, np.stack(boxes), z, get_rank())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='the cache folder')
    parser.add_argument('--crops', type=int, default=10, help='R per image')
    parser.add_argument(
        '--dim', type=int, default=None, help='r directions (default: k)')
    parser.add_argument('--basis', default=None, help='a basis file to use')
    parser.add_argument('--shard-size', type=int, default=1000)
    parser.add_argument(
        '--batch', type=int, default=256, help='crops per teacher batch')
    parser.add_argument('--seed', type=int, default=0, help='crop seed')
    add_common_args(parser)
    args = parser.parse_args(argv)
    cfg, seed = offline_setup(args)
    cfg.model.basis_file = None
    logger = MMLogger.get_instance('kdep_build_cache', log_level='INFO')
    os.makedirs(args.out, exist_ok=True)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(cfg.model)
        if not isinstance(model, KDEP) or not model.align.needs_basis:
            raise SystemExit(f'{args.config} does not build an SVD+PTS KDEP')
        if torch.cuda.is_available():
            model = model.cuda()
        ds_cfg = dict(cfg.train_dataloader.dataset, pipeline=[])
        dataset = DATASETS.build(ds_cfg)
        basis = the_basis(model, cfg, args, seed, args.out, logger)
    r = args.dim or model.align.k
    if r > basis['basis'].shape[1]:
        raise SystemExit(f'--dim {r} > the basis directions '
                         f"{basis['basis'].shape[1]}")
    device = model.align.mean.device
    proj = dict(
        mean=basis['mean'].to(device), basis=basis['basis'][:, :r].to(device))
    paths = [
        str(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))
    ]
    t = model.teacher_meta
    identity = dict(
        format=FORMAT,
        teacher_fingerprint=t['fingerprint'],
        teacher_tap=t['tap'],
        teacher=t,
        basis_sha256=tensors_digest(proj),
        rank=int(model.align.rank),
        pool_fingerprint=pool_fingerprint(paths),
        num_images=len(paths),
        crop_recipe=recipe_of(cfg.train_dataloader.dataset.pipeline),
        crops_per_image=args.crops,
        dim=r,
        dtype='float16',
        shard_size=args.shard_size,
        seed=args.seed)
    build_file = osp.join(args.out, 'build.json')
    if osp.isfile(build_file):  # resuming: the same build, or refuse
        with open(build_file) as f:
            old = json.load(f)
        check_manifest(old, identity, args.out)
        for key in ('dim', 'crops_per_image', 'shard_size', 'seed'):
            if old.get(key) != identity[key]:
                raise CacheError(f'{args.out} is a build with {key}='
                                 f'{old.get(key)}, not {identity[key]}')
    barrier()
    if is_main_process():
        atomic_write(build_file, json.dumps(identity, indent=1))
    n_shards = -(-len(paths) // args.shard_size)
    mine = [
        s for s in range(n_shards) if s %
        get_world_size() == get_rank() and shard_done(args.out, s) is None
    ]
    todo = sum(
        min(len(paths), (s + 1) * args.shard_size) - s * args.shard_size
        for s in mine)
    logger.info(f'target cache: {n_shards} shards, rank {get_rank()} builds '
                f'{len(mine)} ({todo} images x {args.crops} crops, r = {r})')
    bar = ProgressBar(todo) if is_main_process() and todo else None
    load = LoadImageFromFileSafe()
    for s in mine:
        start = s * args.shard_size
        build_shard(model, dataset, load, s, start,
                    min(len(paths), start + args.shard_size), args,
                    identity['crop_recipe'], proj, bar)
    barrier()
    if is_main_process():
        shards = [shard_done(args.out, s) for s in range(n_shards)]
        if any(rec is None for rec in shards):
            missing = [s for s, rec in enumerate(shards) if rec is None]
            raise CacheError(f'shards {missing} are missing: run again')
        atomic_write(
            osp.join(args.out, 'images.txt'), ''.join(p + '\n' for p in paths))
        atomic_write(
            osp.join(args.out, 'manifest.json'),
            json.dumps(dict(identity, shards=shards), indent=1))
        logger.info(f'target cache written to {args.out}')


if __name__ == '__main__':
    main()
