"""Everything a KDEP run checks and prepares before its first step.

* ``--preflight`` (``preflight=True``): every training image decoded once,
  for every kind of run that reads images (online, dense or cached);
* a model whose terms read a target cache: the pipeline's replayed crops
  bound to the model's one cache folder, the crop size, the pool and every
  shard (present, its rows, its sha256, finite targets) checked
  (:func:`kdep_mm.datasets.replay_crop.bind_cache`), before any step;
* the bases: :func:`kdep_mm.basis.ensure_basis` decides whether they are
  present (the model's basis file, checked against the pool, or a resumed
  checkpoint), reused from the work directory's basis file (same teacher,
  tap, width and pool), or computed
  by one teacher pass over the training dataloader (the training
  augmentation, as the reference does; the whole set or ``num_images``),
  installed identically on every rank and written by rank 0 for later runs
  and other students.

The hook reads only the model's declared interface
(:class:`kdep_mm.models.Distiller`).
"""
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...basis import ensure_basis
from ...datasets.pool import dataset_paths, pool_id
from ...datasets.preflight import preflight_images
from ...datasets.replay_crop import bind_cache
from ...models.protocol import Distiller
from ...utils.misc import unwrap_model


@HOOKS.register_module()
class KDEPBasisHook(Hook):
    """Check and prepare a KDEP run before the first training iteration.

    Args:
        num_images (int, optional): Stop the basis pass after this many
            images (summed over ranks). Defaults to the whole training set.
        out_file (str, optional): Where to write the basis file. Defaults
            to ``<work_dir>/kdep_basis.pth``; ``''`` writes none.
        device (str, optional): Where the float64 sums live. Defaults to
            the model's device.
        preflight (bool): Decode every training image once before anything
            else and stop, listing all unreadable files, if any is
            (:func:`kdep_mm.datasets.preflight_images`; about one decode
            per image). Defaults to False.
        cache_checksums (bool): For a run that reads a target cache, check
            every shard's sha256 and finiteness at start (one read of the
            cache, with a progress bar; ``tools/train.py
            --skip-cache-check`` turns it off for huge caches: presence,
            size and dtype are still checked). Defaults to True.
        other_pool_reason (str, optional): Why the model's ``basis_file=``
            is used although it was computed from other images (logged;
            ``tools/train.py --basis-other-pool REASON``). Without it such
            a file is refused, naming both pool fingerprints.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 num_images: Optional[int] = None,
                 out_file: Optional[str] = None,
                 device: Optional[str] = None,
                 preflight: bool = False,
                 cache_checksums: bool = True,
                 other_pool_reason: Optional[str] = None):
        self.other_pool_reason = other_pool_reason
        self.num_images = num_images
        self.cache_checksums = cache_checksums
        self.preflight = preflight
        self.out_file = out_file
        self.device = device

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        if not isinstance(model, Distiller):
            return
        dataset = runner.train_dataloader.dataset
        if self.preflight and model.reads_images:
            loader = runner.cfg.get('train_dataloader') or {}
            preflight_images(
                dataset,
                workers=loader.get('num_workers', 0),
                logger=runner.logger)
        if model.cache_folder is not None:
            bind_cache(dataset, model.cache_folder, self.cache_checksums)
            runner.logger.info(
                f'target cache {model.cache_folder}: bound to the training '
                'pipeline, pool and shards checked' +
                ('' if self.cache_checksums else ' (checksums skipped)'))
        if not model.basis_slots():
            return
        out_file = self.out_file
        if out_file is None:
            out_file = osp.join(runner.work_dir, 'kdep_basis.pth')
        # The model's basis_file= (installed when it was built) is checked
        # against the pool, unless a checkpoint replaced the bases.
        cfg = getattr(runner, 'cfg', None) or {}
        basis_file = None if getattr(runner, '_has_loaded', False) else (
            cfg.get('model') or {}).get('basis_file')
        ensure_basis(
            model,
            lambda: runner.train_dataloader,
            basis_file=basis_file,
            work_file=out_file or None,
            data=lambda: pool_id(dataset_paths(dataset), self.num_images),
            num_images=self.num_images,
            device=self.device,
            logger=runner.logger,
            other_pool=self.other_pool_reason)
