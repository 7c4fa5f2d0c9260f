"""Leave a ready-to-use student backbone file at the end of pre-training."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...utils.export import export_student
from ...utils.misc import unwrap_model


@HOOKS.register_module()
class KDEPExportHook(Hook):
    """Record the KDEP metadata in checkpoints and export the student.

    * ``before_save_checkpoint``: adds ``checkpoint['meta']['kdep'] =
      model.kdep_meta()`` (teacher, student architecture, taps, alignment),
      so that every checkpoint of the run can be exported later with
      ``tools/extract_student.py``.
    * ``after_train``: writes the backbone-only file
      ``<name>-<sha256[:8]>.pth`` into ``out_dir`` (rank 0 only) and logs
      its path; with ``export_every_checkpoint=True`` also each time a
      checkpoint is saved.

    Args:
        export_every_checkpoint (bool): Also export whenever a checkpoint is
            saved. Defaults to False.
        out_dir (str, optional): Where exported files go. Defaults to the
            runner's work directory.
        name (str, optional): File name stem. Defaults to
            ``kdep_<student>_from_<teacher>``.
    """

    priority = 'LOW'

    def __init__(self,
                 export_every_checkpoint: bool = False,
                 out_dir: Optional[str] = None,
                 name: Optional[str] = None) -> None:
        self.export_every_checkpoint = export_every_checkpoint
        self.out_dir = out_dir
        self.name = name
        #: Paths written by this hook, latest last.
        self.exported = []

    @staticmethod
    def _kdep_model(runner):
        model = unwrap_model(runner.model)
        if not callable(getattr(model, 'kdep_meta', None)):
            raise TypeError(
                'KDEPExportHook needs a KDEP model (with kdep_meta()), got '
                f'{type(model).__name__}; remove the hook from this config.')
        return model

    def before_run(self, runner) -> None:
        self._kdep_model(runner)  # fail before training, not at the end

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        meta['kdep'] = self._kdep_model(runner).kdep_meta()
        if self.export_every_checkpoint:
            self._export(
                runner, checkpoint,
                f"epoch {meta.get('epoch')}, iter {meta.get('iter')}")

    def after_train(self, runner) -> None:
        model = self._kdep_model(runner)
        checkpoint = dict(
            meta=dict(
                kdep=model.kdep_meta(), epoch=runner.epoch, iter=runner.iter),
            state_dict=model.state_dict())
        self._export(runner, checkpoint, 'final')

    def _export(self, runner, checkpoint: dict, tag: str) -> None:
        if not is_main_process():
            return
        out_dir = self.out_dir or runner.work_dir
        path = export_student(
            checkpoint,
            out_dir,
            name=self.name,
            source=f'{osp.basename(runner.work_dir)} ({tag})')
        self.exported.append(path)
        runner.logger.info(f'KDEP student backbone ({tag}) exported to '
                           f'{path}')
