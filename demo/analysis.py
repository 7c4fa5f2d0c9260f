"""The demo's analysis stage: the pre-training loss / R^2 curves and the
teacher's spectrum with the targets' per-direction spread before and after
PTS, as PNG files and ``analysis.json``."""
import os.path as osp

from .cfg_options import TEACHERS
from .finetune import dump_json, load_json
from .report import (plot_pretrain_curves, plot_spectrum, pretrain_curves,
                     read_scalars)
from .stages import banner, pretrain_config


def pts_statistics(basis_file: str,
                   data_root: str,
                   max_images: int = 1000,
                   teacher: str = 'mobilenetv2'):
    """Per-direction std of the teacher's projected features before and
    after PTS on the held-out pool images, computed directly: the teacher
    (the pre-training config's) on the val images, ``(f - mean) @ V``, then
    PTS, with the basis file's mean and directions."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS, MODELS

    import kdep_mm  # noqa: F401
    from kdep_mm.basis import load_basis
    cfg = Config.fromfile(pretrain_config(teacher))
    init_default_scope('mmpretrain')
    model_cfg = cfg.model.copy()
    model_cfg.teacher.checkpoint = osp.join(data_root,
                                            TEACHERS[teacher]['file'])
    model_cfg.basis_file = basis_file
    model = MODELS.build(model_cfg).eval()
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.data_root = osp.join(data_root, 'pool')
    dataset = DATASETS.build(ds_cfg)
    n = min(max_images, len(dataset))
    feats = []
    with torch.no_grad():
        for start in range(0, n, 100):
            batch = pseudo_collate(
                [dataset[i] for i in range(start, min(n, start + 100))])
            inputs = model.data_preprocessor(batch, False)['inputs']
            feats.append(model.extract_teacher_feat(inputs).float())
    f = torch.cat(feats)
    basis = load_basis(basis_file)
    align = model.align
    raw = align.project(f)
    target = align.scale(raw)
    return dict(
        spectrum=basis['spectrum'].tolist(),
        rank=int(align.rank),
        k=int(align.k),
        num_images=n,
        raw_std=raw.std(0).tolist(),
        target_std=target.std(0).tolist())


def stage_analysis(args, pre: dict) -> dict:
    banner('3/7 analysis: loss / R^2 curves, spectrum before and after PTS')
    out = osp.join(args.work_dir, 'analysis.json')
    curves_png = osp.join(args.work_dir, 'pretrain_curves.png')
    spectrum_png = osp.join(args.work_dir, 'spectrum_pts.png')
    if osp.exists(out) and osp.exists(curves_png) and osp.exists(spectrum_png):
        print(f'reusing {out}')
        return load_json(out)
    curves = pretrain_curves(read_scalars(pre['work_dir']))
    plot_pretrain_curves(curves, curves_png)
    stats = pts_statistics(
        pre['basis'],
        args.data_root,
        teacher=getattr(args, 'teacher', 'mobilenetv2'))
    plot_spectrum(
        stats['spectrum'],
        stats['target_std'],
        stats['rank'],
        stats['k'],
        spectrum_png,
        raw_std=stats['raw_std'])
    t = stats['target_std']
    r = stats['raw_std']
    rank = stats['rank']
    summary = dict(
        curves_png=curves_png,
        spectrum_png=spectrum_png,
        rank=rank,
        k=stats['k'],
        sigma_1=stats['spectrum'][0],
        sigma_rank=stats['spectrum'][rank - 1],
        raw_std_ratio_1_to_rank=r[0] / max(r[rank - 1], 1e-12),
        target_std_ratio_1_to_rank=t[0] / max(t[rank - 1], 1e-12),
        curves=curves)
    dump_json(summary, out)
    print(f"teacher rank {rank} of k = {stats['k']}; std ratio of direction "
          f"1 to {rank}: {summary['raw_std_ratio_1_to_rank']:.0f} before "
          f"PTS, {summary['target_std_ratio_1_to_rank']:.1f} after")
    print(f'plots: {curves_png}, {spectrum_png}')
    return summary
