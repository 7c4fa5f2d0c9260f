"""Computes the KDEP basis before training, once.

If the model's alignment needs a basis and none was loaded (from
``basis_file=`` or with a resumed checkpoint), the frozen teacher runs over
the training dataloader (the training augmentation, as the reference does;
the whole set or ``num_images``), the streaming float64 sums are reduced
across ranks, and the covariance's top directions become the basis, on
every rank identically (rank 0's result is broadcast). The basis, its
spectrum and numerical rank are logged and written to a basis file with
metadata that later runs and other students can reuse.
"""
import os.path as osp
import time
from typing import Optional

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.utils import ProgressBar

from ...utils.basis import StreamingCovariance
from ...utils.basis_file import save_basis


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class KDEPBasisHook(Hook):
    """Fill a KDEP model's basis before the first training iteration.

    Args:
        num_images (int, optional): Stop after this many images (summed
            over ranks). Defaults to the whole training set (one pass).
        out_file (str, optional): Where to write the basis file. Defaults
            to ``<work_dir>/kdep_basis.pth``; ``''`` writes none.
        device (str, optional): Where the float64 sums live. Defaults to
            the model's device.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_images: Optional[int] = None,
                 out_file: Optional[str] = None,
                 device: Optional[str] = None):
        self.num_images = num_images
        self.out_file = out_file
        self.device = device

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        align = getattr(model, 'align', None)
        if align is None or not getattr(align, 'needs_basis', False):
            return
        if align.is_initialized:
            runner.logger.info(
                'KDEP basis already present (basis file or resumed '
                f'checkpoint: {int(align.num_images)} images, rank '
                f'{int(align.rank)}); not recomputing it')
            return
        stats = self.collect(model, runner.train_dataloader, runner.logger)
        result = stats.decompose() if dist.get_rank() == 0 else None
        result = self.broadcast(result, model.align)
        model.align.set_basis(
            result['mean'],
            result['basis'],
            result['spectrum'],
            num_images=result['num_images'])
        self.report(model.align, runner.logger)
        out_file = self.out_file
        if out_file is None:
            out_file = osp.join(runner.work_dir, 'kdep_basis.pth')
        if out_file and dist.is_main_process():
            meta = dict(
                model.teacher_identity,
                teacher_arch=str(model.teacher_info['model']),
                teacher_checkpoint=str(model.teacher_info['checkpoint']),
                num_images=result['num_images'],
                rank=int(model.align.rank),
                rank_rtol=float(model.align.rank_rtol),
                created=time.strftime('%Y-%m-%d %H:%M:%S'))
            save_basis(out_file, result['mean'], result['basis'],
                       result['spectrum'], meta)
            runner.logger.info(f'KDEP basis written to {out_file}')
        dist.barrier()

    @torch.no_grad()
    def collect(self, model, dataloader, logger) -> StreamingCovariance:
        """One pass of the teacher over ``dataloader``; reduced sums."""
        device = self.device or next(model.parameters()).device
        stats = StreamingCovariance(model.align.d_t, device=device)
        world = dist.get_world_size()
        total = len(dataloader.dataset)
        if self.num_images is not None:
            total = min(total, self.num_images)
        per_rank = -(-total // world)
        logger.info(f'KDEP basis: teacher features of {total} images '
                    f'(D_t = {model.align.d_t}, k = {model.align.k})')
        bar = ProgressBar(per_rank) if dist.is_main_process() else None
        seen = 0
        for data in dataloader:
            data = model.data_preprocessor(data, False)
            inputs = data['inputs'][:per_rank - seen]
            # Float32 features: the rank estimate must not see low-precision
            # rounding noise.
            with torch.autocast(device_type=inputs.device.type, enabled=False):
                feats = model.extract_teacher_feat(inputs.float())
            stats.update(feats)
            seen += len(inputs)
            if bar is not None:
                bar.update(len(inputs))
            if seen >= per_rank:
                break
        if bar is not None:
            bar.file.write('\n')
        stats.all_reduce()
        return stats

    @staticmethod
    def broadcast(result, align) -> dict:
        """Give every rank rank 0's decomposition, bit for bit."""
        if dist.get_world_size() == 1:
            return result
        device = align.mean.device
        d_t = align.d_t
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

    @staticmethod
    def report(align, logger) -> None:
        s = align.spectrum
        idx = [
            i for i in (0, 1, 7, 31, 127, align.k - 1, int(align.rank) - 1,
                        int(align.rank)) if 0 <= i < len(s)
        ]
        shown = ', '.join(f'#{i + 1}: {float(s[i]):.4g}'
                          for i in sorted(set(idx)))
        logger.info(
            f'KDEP basis from {int(align.num_images)} images: numerical rank '
            f'{int(align.rank)} of D_t = {align.d_t} (k = {align.k}, '
            f'{align.num_targets} directions distilled, rank_policy='
            f'{align.rank_policy}); singular values {shown}')
