"""Stop a run at the first non-finite distillation loss, naming the culprit.

The idea of mmdet's ``CheckInvalidLossHook``, in the root registry (so it
works in any scope) and for KDEP: the model keeps references to the last
step's tensors of every term (teacher feature or cached target, student
feature, target, prediction; no copies; ``Distiller.last_tensors``), and
when the loss is NaN or Inf the error names the iteration, every tensor
that is not finite (with its NaN and Inf counts), the first of them in
data-flow order and the first non-finite student parameter. The hook runs
before ``CheckpointHook``, so the bad step is never saved: the last
checkpoint on disk is the last good one, and the message gives the command
that continues from it once the cause is fixed (``tools/train.py
--continue-from``: the fixed config's learning rates and schedules, not the
checkpoint's; see :class:`KDEPContinueHook`).
"""
import math
from collections import OrderedDict
from typing import Optional

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...models.protocol import Distiller
from ...utils.misc import unwrap_model


class NonFiniteLossError(FloatingPointError):
    """The distillation loss became NaN or Inf."""


def _describe(t: torch.Tensor) -> Optional[str]:
    """'N NaN, M Inf of K values' for a non-finite tensor, else None."""
    t = t.detach()
    if not t.is_floating_point() or bool(torch.isfinite(t).all()):
        return None
    nan = int(torch.isnan(t).sum())
    inf = int(torch.isinf(t).sum())
    return (f'{nan} NaN, {inf} Inf of {t.numel()} values, shape '
            f'{tuple(t.shape)}')


def continue_command(runner, checkpoint: str) -> str:
    """The command that continues this run from ``checkpoint`` with the
    same launcher and number of processes (a one-process command would
    change the total batch and the exactness of a distributed run)."""
    config = getattr(getattr(runner, 'cfg', None), 'filename',
                     None) or '<config>'
    tail = f'--continue-from {checkpoint}'
    world, local = dist.get_world_size(), dist.get_local_size()
    if getattr(runner, 'launcher', 'none') == 'slurm':
        return (f'GPUS={world} bash tools/slurm_train.sh <partition> '
                f'<job name> {config} {runner.work_dir} {tail}')
    if world > 1 or getattr(runner, 'launcher', 'none') == 'pytorch':
        nodes = '' if local >= world else (
            f'NNODES={world // local} NODE_RANK=<this node> '
            'MASTER_ADDR=<first node> ')
        return (f'{nodes}bash tools/dist_train.sh {config} {local} '
                f'--work-dir {runner.work_dir} {tail}')
    return (f'python tools/train.py {config} --work-dir {runner.work_dir} '
            f'{tail}')


@HOOKS.register_module()
class KDEPCheckInvalidLossHook(Hook):
    """Raise :class:`NonFiniteLossError` when the training loss is not finite.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1
            (the check reads one scalar that the logger reads anyway).
    """

    # After RuntimeInfoHook, before LoggerHook and CheckpointHook.
    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        bad = OrderedDict()
        for name, value in outputs.items():
            if not isinstance(value, torch.Tensor):
                if isinstance(value, float) and not math.isfinite(value):
                    bad[name] = str(value)
                continue
            what = _describe(value)
            if what is not None:
                bad[name] = what
        if not bad:
            return
        self._raise(runner, bad)

    def _raise(self, runner, bad_outputs: dict) -> None:
        lines = [
            f'non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}); training stopped before this step was '
            'saved.'
        ]
        culprits = []
        model = unwrap_model(runner.model)
        last = model.last_tensors() if isinstance(model, Distiller) else {}
        for name, tensor in last.items():
            what = _describe(tensor)
            if what is not None:
                culprits.append(name)
                lines.append(f'  {name}: {what}')
        for name, what in bad_outputs.items():
            lines.append(f'  {name}: {what}')
        backbone = getattr(model, 'backbone', model)
        for name, param in backbone.named_parameters():
            what = _describe(param)
            if what is not None:
                lines.append(f'  first non-finite student parameter (after '
                             f'the step): {name}: {what}')
                break
        if culprits:
            lines.insert(
                1, f'  first non-finite tensor in data-flow order: '
                f'{culprits[0]}')
        last = runner.message_hub.get_info('last_ckpt')
        if last:
            lines.append(
                f'The last good checkpoint is {last}. Fix the cause in the '
                'config (e.g. the learning rate or its schedule), then '
                'continue with that config\'s optimiser settings:\n'
                f'  {continue_command(runner, last)}\n'
                '(--resume would restore the old learning rates and '
                'schedules from the checkpoint.)')
        else:
            lines.append('No checkpoint was saved before this iteration.')
        raise NonFiniteLossError('\n'.join(lines))
