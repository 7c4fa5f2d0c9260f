"""One pass of the frozen teacher over a dataloader -> the KDEP basis
(one per slot: the pooled target and each dense stage).

Shared by :class:`kdep_mm.engine.hooks.KDEPBasisHook` (before training)
and ``tools/compute_basis.py`` (offline): the teacher's distilled features
are accumulated in float64 (:class:`StreamingCovariance`), the sums are
reduced across ranks, rank 0 decomposes them and broadcasts the result bit
for bit, and every rank installs the same basis in the model's alignment.
"""
from typing import Dict, Optional

import torch
from mmengine import dist
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar

from .covariance import StreamingCovariance


@torch.no_grad()
def collect_statistics(model,
                       dataloader,
                       num_images: Optional[int] = None,
                       device=None,
                       logger=None) -> Dict[str, StreamingCovariance]:
    """One pass of ``model``'s teacher over ``dataloader``; reduced sums,
    one :class:`StreamingCovariance` per basis slot (the pooled target,
    each dense stage), from the same teacher forward.

    Args:
        model (KDEP): The distiller (unwrapped).
        dataloader: Yields mmengine data batches (the training pipeline).
        num_images (int, optional): Stop after this many images, summed
            over ranks. Defaults to the whole dataset.
        device (str, optional): Where the float64 sums live. Defaults to
            the model's device.
        logger (MMLogger, optional): Defaults to the current logger.
    """
    logger = logger or MMLogger.get_current_instance()
    device = device or next(model.parameters()).device
    slots = model.basis_slots()
    stats = {
        name: StreamingCovariance(align.d_t, device=device)
        for name, align in slots.items()
    }
    world = dist.get_world_size()
    total = len(dataloader.dataset)
    if num_images is not None:
        total = min(total, num_images)
    per_rank = -(-total // world)
    widths = ', '.join(f'{name}: D_t = {a.d_t}, k = {a.k}'
                       for name, a in slots.items())
    logger.info(f'KDEP basis: teacher features of {total} images ({widths})')
    bar = ProgressBar(per_rank) if dist.is_main_process() else None
    seen = 0
    for data in dataloader:
        data = model.data_preprocessor(data, False)
        inputs = data['inputs'][:per_rank - seen]
        # Float32 features: the rank estimate must not see low-precision
        # rounding noise.
        with torch.autocast(device_type=inputs.device.type, enabled=False):
            feats = model.basis_features(inputs.float())
        for name, rows in feats.items():
            stats[name].update(rows)
        seen += len(inputs)
        if bar is not None:
            bar.update(len(inputs))
        if seen >= per_rank:
            break
    if bar is not None:
        bar.file.write('\n')
    for s in stats.values():
        s.all_reduce()
    return stats


def broadcast_result(result: Optional[Dict], d_t: int, device) -> Dict:
    """Give every rank rank 0's decomposition, bit for bit."""
    if dist.get_world_size() == 1:
        return result
    if result is None:
        result = dict(
            mean=torch.zeros(d_t, device=device),
            basis=torch.zeros(d_t, d_t, device=device),
            spectrum=torch.zeros(d_t, device=device),
            num_images=0)
    n = torch.tensor([result['num_images']], device=device)
    tensors = [result['mean'], result['basis'], result['spectrum'], n]
    tensors = [t.to(device).contiguous() for t in tensors]
    for t in tensors:
        dist.broadcast(t, src=0)
    return dict(
        mean=tensors[0],
        basis=tensors[1],
        spectrum=tensors[2],
        num_images=int(tensors[3].item()))


def report_basis(align, logger=None, name: str = 'pooled') -> None:
    """Log the spectrum at a few directions and the numerical rank."""
    logger = logger or MMLogger.get_current_instance()
    s = align.spectrum
    idx = [
        i for i in (0, 1, 7, 31, 127, align.k - 1, int(align.rank) - 1,
                    int(align.rank)) if 0 <= i < len(s)
    ]
    shown = ', '.join(f'#{i + 1}: {float(s[i]):.4g}' for i in sorted(set(idx)))
    what = ' images' if name == 'pooled' else \
        f' images ({name})' if name.split('/')[-1] == 'pooled' else \
        f' location vectors ({name})'
    logger.info(
        f'KDEP basis from {int(align.num_images)}{what}: numerical rank '
        f'{int(align.rank)} of D_t = {align.d_t} (k = {align.k}, '
        f'{align.num_targets} directions distilled, rank_policy='
        f'{align.rank_policy}); singular values {shown}')


def fit_basis(model,
              dataloader,
              num_images: Optional[int] = None,
              device=None,
              logger=None) -> Dict[str, Dict]:
    """Compute every basis of ``model``'s teacher and install it, on every
    rank identically.

    Args:
        model (KDEP): The distiller (unwrapped); at least one of its
            alignments must need a basis.
        dataloader: The images (the training pipeline, as the reference).
        num_images (int, optional): At most this many images.
        device (str, optional): Where the float64 sums live.
        logger (MMLogger, optional): Defaults to the current logger.

    Returns:
        dict: per slot name, ``mean``, ``basis`` (all D_t directions),
        ``spectrum``, ``num_images`` (rows: images for the pooled target,
        location vectors for a dense stage), as
        :meth:`StreamingCovariance.decompose` gives them.
    """
    stats = collect_statistics(model, dataloader, num_images, device, logger)
    results = {}
    for name, align in model.basis_slots().items():
        result = stats[name].decompose() if dist.get_rank() == 0 else None
        result = broadcast_result(result, align.d_t, align.mean.device)
        align.set_basis(
            result['mean'],
            result['basis'],
            result['spectrum'],
            num_images=result['num_images'])
        report_basis(align, logger, name)
        results[name] = result
    return results
