"""The spatial readout: what a frozen backbone's multi-scale maps say about
*where* things are (issue 29), the direct test of "dense targets put more
spatial information into the backbone".

Glyph segmentation (MNIST digits on real photos, 11 classes, 128 px) read
out per cell of the stride-8 grid: the frozen network's maps at strides
8, 16 and 32 (the tap registry's pre-activation points, the maps an FPN
reads), the coarser ones bilinearly upsampled to 16 x 16, concatenated
per cell; each cell's label is the majority class of its 8 x 8 pixels.
A multinomial logistic regression (:func:`~demo.study.probe.fit_linear`),
**class-balanced** (96% of the cells are background: unweighted, every
backbone predicts background and sits at the floor): it is fitted on every
digit cell of the train split and as many background cells (a fixed draw,
generator seed 0), with inverse-frequency class weights; its L2 strength
is chosen on val mIoU (all cells), and test mIoU over the 11 classes is
reported. Convex and solved to convergence: no seed beyond the fixed
draw; its number depends only on the features.
"""
import glob
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import ROOT
from .probe import fit_linear, grid_edge, select_probe

DATA = osp.join('data', 'demo', 'seg', 'glyphs')
CLASSES = 11
STRIDES = (8, 16, 32)
CELL = 8
#: L2 strengths (fixed before the readout was first run).
SPATIAL_L2 = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def load_split(split: str,
               data_root: Optional[str] = None,
               limit: Optional[int] = None) -> Tuple[torch.Tensor, np.ndarray]:
    """Images (N, 3, 128, 128) normalised RGB, and masks (N, 128, 128)."""
    import mmcv
    root = data_root or osp.join(ROOT, DATA)
    files = sorted(glob.glob(osp.join(root, 'img_dir', split, '*')))[:limit]
    images, masks = [], []
    for f in files:
        images.append(mmcv.imread(f, channel_order='rgb'))
        stem = osp.splitext(osp.basename(f))[0]
        masks.append(
            mmcv.imread(
                osp.join(root, 'ann_dir', split, stem + '.png'),
                flag='unchanged'))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return (x - MEAN) / STD, np.stack(masks)


def cell_labels(masks: np.ndarray, cell: int = CELL) -> torch.Tensor:
    """The majority class of each ``cell`` x ``cell`` block, (N, h, w)."""
    one_hot = F.one_hot(
        torch.from_numpy(masks).long().clamp(max=CLASSES - 1),
        CLASSES).permute(0, 3, 1, 2).float()
    return F.avg_pool2d(one_hot, cell).argmax(1)


@torch.no_grad()
def cell_features(network: torch.nn.Module,
                  images: torch.Tensor,
                  batch: int = 40) -> torch.Tensor:
    """The maps at :data:`STRIDES` (tap registry), upsampled to the stride-8
    grid and concatenated: (N, h, w, C)."""
    from kdep_mm.models.taps import map_tap
    taps = [
        map_tap(network, None, s, images.shape[-1], False, 'readout')[0]
        for s in STRIDES
    ]
    network.eval()
    side = images.shape[-1] // CELL
    out = []
    for chunk in images.split(batch):
        network(chunk)
        maps = [
            F.interpolate(
                t.pop(),
                size=(side, side),
                mode='bilinear',
                align_corners=False) for t in taps
        ]
        out.append(torch.cat(maps, 1).permute(0, 2, 3, 1))
    for t in taps:
        t.remove()
    return torch.cat(out)


def miou(pred: torch.Tensor, label: torch.Tensor) -> float:
    """Mean IoU (%) over the classes present in ``label`` or ``pred``."""
    ious = []
    for c in range(CLASSES):
        p, t = pred == c, label == c
        union = (p | t).sum().item()
        if union:
            ious.append((p & t).sum().item() / union)
    return 100.0 * sum(ious) / len(ious)


def balanced_rows(labels: torch.Tensor) -> torch.Tensor:
    """Indices of every non-background row and as many background rows
    (a fixed draw, generator seed 0)."""
    fg = torch.nonzero(labels > 0).flatten()
    bg = torch.nonzero(labels == 0).flatten()
    g = torch.Generator().manual_seed(0)
    pick = bg[torch.randperm(len(bg), generator=g)[:len(fg)]]
    return torch.cat([fg, pick]).sort().values


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Inverse class frequency, normalised to mean 1 over the classes seen."""
    counts = torch.bincount(labels, minlength=CLASSES).double()
    w = torch.where(counts > 0, 1.0 / counts.clamp_min(1), 0.0)
    return w * (counts > 0).sum() / w.sum()


def spatial_probe(network: torch.nn.Module,
                  l2_grid: Sequence[float] = SPATIAL_L2,
                  limit: Optional[int] = None,
                  data_root: Optional[str] = None) -> Dict:
    """Every L2 strength's val and test mIoU, the one val chose and whether
    it sits on an edge of the grid."""
    feats, labels = {}, {}
    for split in ('train', 'val', 'test'):
        images, masks = load_split(split, data_root, limit)
        f = cell_features(network, images)
        feats[split] = f.reshape(-1, f.shape[-1])
        labels[split] = cell_labels(masks).reshape(-1)
    keep = balanced_rows(labels['train'])
    x, y = feats['train'][keep], labels['train'][keep]
    weight = balanced_weights(y)
    runs = {}
    for l2 in l2_grid:
        predict = fit_linear(x, y, l2, CLASSES, weight, max_iter=300)
        runs[f'l2{l2:g}'] = dict(
            l2=l2,
            zir=None,
            val=miou(predict(feats['val']), labels['val']),
            test=miou(predict(feats['test']), labels['test']))
    chosen = select_probe(runs)
    return dict(
        grid=runs,
        chosen=chosen,
        val=runs[chosen]['val'],
        test=runs[chosen]['test'],
        edge=grid_edge(runs[chosen]['l2'], l2_grid),
        dims=int(feats['train'].shape[1]),
        rows=int(len(keep)))


def student_network(checkpoint: Optional[str],
                    zero_init_residual: Optional[bool] = None,
                    seed: int = 0) -> torch.nn.Module:
    """The study's ResNet-18: the pre-trained student (every weight loaded
    strictly), or a random one (``seed``; ``zero_init_residual``)."""
    from kdep_mm.utils.checkpoint import get_state_dict, load_weights
    from kdep_mm.utils.misc import build_mmpretrain
    torch.manual_seed(seed)
    net = build_mmpretrain(
        dict(
            type='ResNet',
            depth=18,
            zero_init_residual=bool(zero_init_residual)))
    net.init_weights()
    if checkpoint is not None:
        state = get_state_dict(load_weights(checkpoint))
        if any(k.startswith('backbone.') for k in state):
            state = get_state_dict(state, prefix='backbone.')
        net.load_state_dict(state, strict=True)
    return net


def probe_spatial(task: str,
                  checkpoint: Optional[str],
                  inits: Sequence[Optional[bool]] = (None, ),
                  limit: Optional[int] = None,
                  seed: int = 0) -> Dict:
    """:func:`spatial_probe` of a student (scratch: each init in
    ``inits``, chosen on val like the L2 strength); the signature of
    :func:`~demo.study.probe.probe`."""
    runs = {}
    for zir in inits:
        res = spatial_probe(
            student_network(checkpoint, zir, seed), limit=limit)
        for key, r in res['grid'].items():
            tag = '' if zir is None else f'_zir{int(zir)}'
            runs[key + tag] = dict(r, zir=zir)
    chosen = select_probe(runs)
    return dict(
        task=task,
        seed=seed,
        grid=runs,
        chosen=chosen,
        val=runs[chosen]['val'],
        test=runs[chosen]['test'],
        edge=grid_edge(runs[chosen]['l2'], SPATIAL_L2),
        dims=res['dims'])
