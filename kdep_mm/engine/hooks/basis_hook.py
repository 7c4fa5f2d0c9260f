"""Computes the KDEP basis before training, once.

If the model's alignment needs a basis and none was loaded (from
``basis_file=`` or with a resumed checkpoint), :func:`kdep_mm.basis.fit_basis`
runs the frozen teacher over the training dataloader (the training
augmentation, as the reference does; the whole set or ``num_images``) and
installs the same basis on every rank; rank 0 writes the basis file that
later runs and other students can reuse.
"""
import os.path as osp
from typing import Optional

from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...basis import fit_basis, save_model_basis
from ...utils.misc import unwrap_model


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
        model = unwrap_model(runner.model)
        align = getattr(model, 'align', None)
        if align is None or not getattr(align, 'needs_basis', False):
            return
        if align.is_initialized:
            runner.logger.info(
                'KDEP basis already present (basis file or resumed '
                f'checkpoint: {int(align.num_images)} images, rank '
                f'{int(align.rank)}); not recomputing it')
            return
        result = fit_basis(model, runner.train_dataloader, self.num_images,
                           self.device, runner.logger)
        out_file = self.out_file
        if out_file is None:
            out_file = osp.join(runner.work_dir, 'kdep_basis.pth')
        if out_file and dist.is_main_process():
            save_model_basis(model, result, out_file)
            runner.logger.info(f'KDEP basis written to {out_file}')
        dist.barrier()
