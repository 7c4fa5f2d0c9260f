"""Continue a run after fixing its optimisation settings.

``--resume`` restores everything a checkpoint holds, the optimiser's
learning rates and the schedulers' state included: after a divergence
caused by the schedule (a learning rate that jumps to 1e6 in epoch 2),
resuming from the last good checkpoint with the schedule fixed in the
config starts epoch 2 at lr 1e6 again and diverges at the same iteration.

This hook is what ``tools/train.py --continue-from CKPT`` adds: the run
resumes the weights, the loop position, the optimiser's per-parameter
state (momentum buffers), the message hub and (with
:class:`KDEPRandomStateHook`) the random state, but takes the optimiser's
hyper-parameters (learning rate, momentum, weight decay of every group) and
the schedulers from the config, fast-forwarded to the checkpoint's epoch /
iteration, i.e. as if the fixed config had been used from the start.
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _schedulers(runner):
    s = runner.param_schedulers
    if s is None:
        return []
    if isinstance(s, dict):
        return [x for group in s.values() for x in group]
    return list(s)


def _groups(optim_wrapper):
    """``(name, optimizer)`` of a wrapper or a dict of wrappers."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None)
    if wrappers is None:
        return [('', optim_wrapper.optimizer)]
    return [(k, w.optimizer) for k, w in wrappers.items()]


@HOOKS.register_module()
class KDEPContinueHook(Hook):
    """Resume a checkpoint with the config's optimisation settings.

    Args:
        checkpoint (str): The checkpoint being continued (for the log).
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str = '') -> None:
        self.checkpoint = checkpoint
        self._loaded = False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return
        optim = checkpoint.get('optimizer')
        if optim is not None:
            wrappers = _groups(runner.optim_wrapper)
            states = [optim] if wrappers[0][0] == '' else \
                [optim[name] for name, _ in wrappers]
            for state, (_, optimizer) in zip(states, wrappers):
                saved = state['param_groups']
                if len(saved) != len(optimizer.param_groups):
                    raise ValueError(
                        f'cannot continue from {self.checkpoint}: it has '
                        f'{len(saved)} optimiser parameter groups, the config '
                        f'builds {len(optimizer.param_groups)} (paramwise_cfg '
                        'changed?); start a new run with load_from= instead.')
                for old, new in zip(saved, optimizer.param_groups):
                    old.update({k: v for k, v in new.items() if k != 'params'})
        # the config's schedulers, not the checkpoint's
        checkpoint.pop('param_schedulers', None)
        self._loaded = True

    def before_train(self, runner) -> None:
        if not self._loaded:
            return
        moved = []
        for scheduler in _schedulers(runner):
            steps = runner.epoch if scheduler.by_epoch else runner.iter
            for _ in range(steps):
                scheduler.step()
            moved.append(f'{type(scheduler).__name__} x{steps}')
        lrs = [
            f'{name or "lr"}={g["lr"]:.4g}'
            for name, opt in _groups(runner.optim_wrapper)
            for g in opt.param_groups[:1]
        ]
        runner.logger.info(
            f'KDEP: continuing from {self.checkpoint} at epoch {runner.epoch}'
            f', iteration {runner.iter} with the optimiser settings and '
            f"schedules of this config ({', '.join(moved) or 'no scheduler'}"
            f" stepped to here; {', '.join(lrs)})")
