"""Computes the KDEP basis before training, once.

If the model's alignment needs a basis and none was loaded (from
``basis_file=`` or with a resumed checkpoint), :func:`kdep_mm.basis.fit_basis`
runs the frozen teacher over the training dataloader (the training
augmentation, as the reference does; the whole set or ``num_images``) and
installs the same basis on every rank; rank 0 writes the basis file that
later runs and other students can reuse. A basis file already in the work
directory (a run that died before its first checkpoint, or a re-run) is
reused when it belongs to this teacher, tap, width and images (a
fingerprint of the image list), instead of paying the teacher pass again.
"""
import os.path as osp
from typing import Optional

from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...basis import fit_basis, load_basis_into, save_model_basis
from ...basis.io import data_fingerprint
from ...datasets.preflight import preflight_images
from ...utils.checkpoint import DamagedFileError
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
        preflight (bool): Decode every training image once before the
            teacher pass and stop, listing all unreadable files, if any is
            (:func:`kdep_mm.datasets.preflight_images`; about one decode
            per image). Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_images: Optional[int] = None,
                 out_file: Optional[str] = None,
                 device: Optional[str] = None,
                 preflight: bool = False):
        self.num_images = num_images
        self.preflight = preflight
        self.out_file = out_file
        self.device = device

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        slots = model.basis_slots() if hasattr(model, 'basis_slots') else {}
        if not slots:
            return
        if self.preflight:
            loader = runner.cfg.get('train_dataloader') or {}
            preflight_images(
                runner.train_dataloader.dataset,
                workers=loader.get('num_workers', 0),
                logger=runner.logger)
        if all(a.is_initialized for a in slots.values()):
            runner.logger.info(
                'KDEP basis already present (basis file or resumed '
                f'checkpoint: {_describe(slots)}); not recomputing it')
            return
        out_file = self.out_file
        if out_file is None:
            out_file = osp.join(runner.work_dir, 'kdep_basis.pth')
        data = data_fingerprint(runner.train_dataloader.dataset,
                                self.num_images)
        if out_file and self._reuse(model, out_file, data, runner.logger):
            return
        result = fit_basis(model, runner.train_dataloader, self.num_images,
                           self.device, runner.logger)
        if out_file and dist.is_main_process():
            save_model_basis(model, result, out_file, data=data)
            runner.logger.info(f'KDEP basis written to {out_file}')
        dist.barrier()

    @staticmethod
    def _reuse(model, out_file: str, data: str, logger) -> bool:
        """Install the basis file a previous run of this work directory
        wrote, if it belongs to this teacher, tap, width and images (a run
        that died before its first checkpoint, or a re-run); say why not
        otherwise."""
        if not osp.isfile(out_file):
            return False
        try:  # teacher, tap, width and images
            load_basis_into(model, out_file, data=data)
        except (ValueError, DamagedFileError) as e:
            logger.warning(f'KDEP basis in {out_file} not reused, '
                           f'recomputing it: {e}')
            return False
        logger.info(f'KDEP basis reused from {out_file} (this teacher, tap '
                    f'and images; {_describe(model.basis_slots())}); delete '
                    'it to recompute')
        return True


def _describe(slots) -> str:
    """``<n> images, rank <r>`` of each basis slot."""
    return '; '.join(
        ('' if name == 'pooled' else f'{name}: ') +
        f'{int(a.num_images)} {"images" if name == "pooled" else "rows"}, '
        f'rank {int(a.rank)}' for name, a in slots.items())
