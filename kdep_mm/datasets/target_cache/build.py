"""The teacher pass of a cache build: R crops per image (seeded by
(seed, image index), so a re-run or a resumed build draws the same
crops), the teacher once per crop in batches across images, every cached
term's feature projected by the term's own ``project`` (centring + basis;
PTS stays for training) and stored as float16.

A flipped crop is a crop of its own: the teacher sees the flipped pixels
and its map is stored as it is, never mirrored (a mirrored ViT map is not
the teacher's map of the mirrored image).
"""
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size, is_main_process
from mmengine.utils import ProgressBar

from ...models.alignment import SVDPTSAlignment
from ...models.taps import map_rows, resample_map
from ...utils.checkpoint import tensors_digest
from ..replay_crop import apply_box, sample_box
from ..transforms import LoadImageFromFileSafe
from .writer import CacheWriter


def projections(records: Dict[str, Dict],
                dims: Dict[str, int]) -> Dict[str, SVDPTSAlignment]:
    """Per column, an alignment holding the top-``dims[name]`` directions
    of its basis record (mean, basis, spectrum, meta), for ``project``."""
    out = {}
    for name, r in dims.items():
        rec = records[name]
        d_t = rec['mean'].numel()
        if r > rec['basis'].shape[1]:
            raise ValueError(f'{name}: {r} directions asked, the basis has '
                             f"{rec['basis'].shape[1]}")
        align = SVDPTSAlignment()
        align.build(r, d_t)
        align.set_basis(
            rec['mean'],
            rec['basis'],
            rec['spectrum'],
            rank=int(rec['meta'].get('rank', r)))
        out[name] = align
    return out


def basis_digest(proj: Dict[str, SVDPTSAlignment]) -> str:
    """The digest of the projections a cache stores (as format 2 for a
    pooled-only cache)."""
    if list(proj) == ['pooled']:
        a = proj['pooled']
        return tensors_digest(dict(mean=a.mean, basis=a.basis))
    return tensors_digest({
        f'{name}.{key}': getattr(a, key)
        for name, a in proj.items()
        for key in ('mean', 'basis')
    })


@torch.no_grad()
def crop_targets(model, proj: Dict[str, SVDPTSAlignment], crops,
                 grids: Dict[str, Optional[tuple]]) -> Dict[str, np.ndarray]:
    """The float16 projections of a batch of crops, per column: pooled
    (B, r), maps (B, r_l, h, w) on the teacher's grid (or ``grids``)."""
    inputs = model.data_preprocessor(dict(inputs=crops), False)['inputs']
    with torch.autocast(device_type=inputs.device.type, enabled=False):
        feats = model.teacher_outputs(inputs.float())
    out = {}
    for name, align in proj.items():
        f = feats[name]
        if f.dim() == 4:
            b, _, h, w = f.shape
            z = align.project(map_rows(f)).reshape(b, h, w, -1)
            z = z.permute(0, 3, 1, 2)
            if grids.get(name):
                z = resample_map(z, grids[name])
        else:
            z = align.project(f)
        out[name] = z.cpu().numpy().astype(np.float16)
    return out


def build_shards(model, dataset, writer: CacheWriter,
                 proj: Dict[str, SVDPTSAlignment], grids: Dict, crops: int,
                 batch: int, seed: int, logger) -> None:
    """This rank's unfinished shards: R crops of each image, the teacher
    in batches of ``batch`` crops across images, one shard at a time."""
    recipe = writer.identity['crop_recipe']
    mine = writer.pending(get_rank(), get_world_size())
    todo = sum(b - a for a, b in map(writer.shard_range, mine))
    logger.info(f'target cache: {writer.num_shards} shards, rank '
                f'{get_rank()} builds {len(mine)} ({todo} images x {crops} '
                f'crops; columns {sorted(proj)})')
    bar = ProgressBar(todo) if is_main_process() and todo else None
    load = LoadImageFromFileSafe()
    for shard in mine:
        start, stop = writer.shard_range(shard)
        boxes, pending, parts = [], [], []

        def flush():
            parts.append(crop_targets(model, proj, pending, grids))
            pending.clear()

        for index in range(start, stop):
            info = dataset.get_data_info(index)
            img = load(dict(img_path=info['img_path']))['img']
            rng = np.random.default_rng([seed, index])
            b = [
                sample_box(rng, img.shape[0], img.shape[1], recipe)
                for _ in range(crops)
            ]
            boxes.append(np.asarray(b, dtype=np.int32))
            pending += [
                torch.from_numpy(apply_box(img, box, recipe)).permute(2, 0, 1)
                for box in b
            ]
            if len(pending) >= batch:
                flush()
            if bar is not None:
                bar.update()
        if pending:
            flush()
        targets = {
            name:
            np.concatenate([p[name]
                            for p in parts]).reshape(stop - start, crops,
                                                     *parts[0][name].shape[1:])
            for name in proj
        }
        writer.write(shard, np.stack(boxes), targets, get_rank())
