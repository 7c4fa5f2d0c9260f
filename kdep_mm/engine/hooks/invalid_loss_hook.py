"""Stop a run at the first non-finite distillation loss, naming the culprit.

The idea of mmdet's ``CheckInvalidLossHook``, in the root registry (so it
works in any scope) and for KDEP: a forward hook on the model's alignment
keeps references to the last step's teacher feature, student feature,
prediction and target (no copies), and when the loss is NaN or Inf the
error names the iteration, every tensor that is not finite (with its NaN
and Inf counts) and the first non-finite student parameter. The hook runs
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
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

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
        self._last = {}
        self._handle = None

    def before_train(self, runner) -> None:
        align = getattr(unwrap_model(runner.model), 'align', None)
        if isinstance(align, torch.nn.Module):
            self._handle = align.register_forward_hook(self._record)

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._last = {}

    def _record(self, module, args, output) -> None:
        if not module.training:
            return
        f_s, f_t = args[:2]
        pred, target = output
        self._last = OrderedDict([('teacher feature', f_t),
                                  ('student feature', f_s), ('target', target),
                                  ('prediction', pred)])

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
        for name, tensor in self._last.items():
            what = _describe(tensor)
            if what is not None:
                culprits.append(name)
                lines.append(f'  {name}: {what}')
        for name, what in bad_outputs.items():
            lines.append(f'  {name}: {what}')
        model = unwrap_model(runner.model)
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
            config = getattr(runner.cfg, 'filename', None) or '<config>'
            lines.append(
                f'The last good checkpoint is {last}. Fix the cause in the '
                'config (e.g. the learning rate or its schedule), then '
                'continue with that config\'s optimiser settings:\n'
                f'  python tools/train.py {config} --work-dir '
                f'{runner.work_dir} --continue-from {last}\n'
                '(--resume would restore the old learning rates and '
                'schedules from the checkpoint.)')
        else:
            lines.append('No checkpoint was saved before this iteration.')
        raise NonFiniteLossError('\n'.join(lines))
