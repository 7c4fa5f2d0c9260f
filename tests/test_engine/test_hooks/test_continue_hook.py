"""KDEPContinueHook's own logic, with real mmengine optimiser wrappers and
parameter schedulers on a tiny ``nn.Linear`` and a minimal fake runner.

The hook promises that a run continued from a checkpoint keeps the
optimiser's state (momentum buffers) but takes every group's learning rate,
momentum and weight decay, and the schedules, from the config, stepped to
the checkpoint's epoch / iteration as if the fixed config had been used from
the start. :func:`_restore` replays what ``Runner.resume`` does around the
hook, so each check is compared with a plain ``--resume`` of the same
checkpoint (what the run gets without the hook). The whole
``tools/train.py --continue-from`` path is in
tests/tools/test_continue_after_fix.py.
"""
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.optim import (CosineAnnealingMomentum, LinearLR, MultiStepLR,
                            OptimWrapper, OptimWrapperDict)

from kdep_mm.engine.hooks import KDEPContinueHook

CKPT = 'work/epoch_1.pth'


def _wrapper(lr, momentum, weight_decay, seed=0, split=False):
    """An ``OptimWrapper`` of SGD on a fresh 4 -> 2 linear layer (weight and
    bias in two parameter groups with ``split``)."""
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    params = [dict(params=[model.weight]), dict(params=[model.bias])] \
        if split else model.parameters()
    opt = torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return model, OptimWrapper(opt)


def _train(model, wrapper, schedulers, epochs, iters_per_epoch):
    """mmengine's loop: an update per iteration, iteration-based schedulers
    after each iteration, epoch-based ones after each epoch."""
    x = torch.randn(
        iters_per_epoch, 3, 4, generator=torch.Generator().manual_seed(0))
    for _ in range(epochs):
        for i in range(iters_per_epoch):
            wrapper.update_params(model(x[i]).square().mean())
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()


def _checkpoint(wrapper, schedulers):
    """What ``Runner.save_checkpoint`` stores of the optimisation, copied
    (as a load from disk would be)."""
    if isinstance(schedulers, dict):
        states = {
            k: [s.state_dict() for s in v]
            for k, v in schedulers.items()
        }
    else:
        states = [s.state_dict() for s in schedulers]
    return copy.deepcopy(
        dict(optimizer=wrapper.state_dict(), param_schedulers=states))


def _runner(wrapper, schedulers, epoch, it, resume=True):
    lines = []
    runner = SimpleNamespace(
        _resume=resume,
        optim_wrapper=wrapper,
        param_schedulers=schedulers,
        epoch=epoch,
        iter=it,
        logger=SimpleNamespace(info=lines.append))
    return runner, lines


def _restore(hook, runner, checkpoint):
    """``Runner.resume`` around ``hook``: ``after_load_checkpoint``, then the
    optimiser and (if still in the checkpoint) the schedulers restored from
    it, then ``before_train``."""
    hook.after_load_checkpoint(runner, checkpoint)
    runner.optim_wrapper.load_state_dict(checkpoint['optimizer'])
    saved = checkpoint.get('param_schedulers')
    if saved is not None:
        mine = runner.param_schedulers
        pairs = [(s, c) for k in mine for s, c in zip(mine[k], saved[k])] \
            if isinstance(mine, dict) else zip(mine, saved)
        for scheduler, state in pairs:
            scheduler.load_state_dict(state)
    hook.before_train(runner)


def _diverged_run():
    """Epoch 1 of a run whose schedule jumps the learning rate to 1e6 at
    the end of epoch 1 (3 iterations per epoch), and its checkpoint."""
    model, wrapper = _wrapper(lr=1.0, momentum=0.5, weight_decay=0.1)
    bad = [
        MultiStepLR(wrapper, by_epoch=True, milestones=[1], gamma=1e6),
    ]
    _train(model, wrapper, bad, epochs=1, iters_per_epoch=3)
    return wrapper, _checkpoint(wrapper, bad)


def _fixed():
    """The fixed config: other hyper-parameters, a decay at epoch 1."""
    _, wrapper = _wrapper(lr=0.05, momentum=0.9, weight_decay=1e-4, seed=1)
    return wrapper, [
        MultiStepLR(wrapper, by_epoch=True, milestones=[1], gamma=0.1)
    ]


def test_hyper_parameters_and_schedule_come_from_the_config():
    """lr / momentum / weight decay of the fixed config with its schedule
    stepped to epoch 1 (0.05 * 0.1), where ``--resume`` keeps the
    checkpoint's lr of 1e6; the momentum buffers are the checkpoint's."""
    old, ckpt = _diverged_run()
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(1e6)

    wrapper, schedulers = _fixed()
    runner, _ = _runner(wrapper, schedulers, epoch=1, it=3)
    _restore(Hook(), runner, copy.deepcopy(ckpt))  # plain --resume
    group = wrapper.param_groups[0]
    assert group['lr'] == pytest.approx(1e6) and group['momentum'] == 0.5

    wrapper, schedulers = _fixed()
    runner, lines = _runner(wrapper, schedulers, epoch=1, it=3)
    hook = KDEPContinueHook(checkpoint=CKPT)
    _restore(hook, runner, ckpt)
    group = wrapper.param_groups[0]
    assert group['lr'] == pytest.approx(0.005)
    assert group['initial_lr'] == pytest.approx(0.05)
    assert group['momentum'] == 0.9 and group['weight_decay'] == 1e-4
    assert 'param_schedulers' not in ckpt
    assert schedulers[0].last_step == 1
    old_state = list(old.optimizer.state.values())
    new_state = list(wrapper.optimizer.state.values())
    assert len(new_state) == len(old_state) == 2
    for a, b in zip(old_state, new_state):
        assert torch.equal(a['momentum_buffer'], b['momentum_buffer'])
    assert len(lines) == 1
    assert lines[0].startswith(
        f'KDEP: continuing from {CKPT} at epoch 1, iteration 3 ')
    assert 'MultiStepLR x1 stepped to here; lr=0.005)' in lines[0]


def test_schedules_match_a_run_of_the_fixed_config_from_the_start():
    """An iteration-based warm-up, epoch-based decays and an
    iteration-based momentum schedule, continued at epoch 2 / iteration 8:
    the same lr and momentum as two epochs of the fixed config."""

    def fixed(seed):
        model, wrapper = _wrapper(
            lr=0.1, momentum=0.9, weight_decay=5e-4, seed=seed)
        return model, wrapper, [
            LinearLR(
                wrapper, start_factor=0.1, by_epoch=False, begin=0, end=5),
            MultiStepLR(wrapper, by_epoch=True, milestones=[1, 2], gamma=0.5),
            CosineAnnealingMomentum(
                wrapper, by_epoch=False, T_max=12, eta_min=0.5),
        ]

    model, reference, ref_schedulers = fixed(seed=2)
    _train(model, reference, ref_schedulers, epochs=2, iters_per_epoch=4)
    want = reference.param_groups[0]

    _, ckpt = _diverged_run()
    _, wrapper, schedulers = fixed(seed=3)
    runner, lines = _runner(wrapper, schedulers, epoch=2, it=8)
    _restore(KDEPContinueHook(CKPT), runner, ckpt)
    got = wrapper.param_groups[0]
    assert want['lr'] == pytest.approx(0.1 * 0.25)  # warm-up over, 2 decays
    assert got['lr'] == pytest.approx(want['lr'])
    assert 0.5 < want['momentum'] < 0.9
    assert got['momentum'] == pytest.approx(want['momentum'])
    assert [s._global_step for s in schedulers] == [8, 2, 8]
    assert [s.last_step for s in schedulers] == \
        [s.last_step for s in ref_schedulers]
    assert 'LinearLR x8, MultiStepLR x2, CosineAnnealingMomentum x8' \
        in lines[0]


def test_each_optimiser_of_a_wrapper_dict():
    """Several optimisers (``OptimWrapperDict``, schedulers per name): the
    checkpoint holds one optimiser state per name, each takes its own
    config values and its own schedules are stepped."""
    models, old = {}, {}
    for i, name in enumerate(('gen', 'disc')):
        models[name], old[name] = _wrapper(
            lr=1.0, momentum=0.5, weight_decay=0.1, seed=i)
    old = OptimWrapperDict(**old)
    bad = {
        k: [MultiStepLR(w, by_epoch=True, milestones=[9])]
        for k, w in old.items()
    }
    ckpt = _checkpoint(old, bad)
    assert set(ckpt['optimizer']) == {'gen', 'disc'}

    new = OptimWrapperDict(
        gen=_wrapper(lr=0.2, momentum=0.8, weight_decay=0.0, seed=5)[1],
        disc=_wrapper(lr=0.03, momentum=0.7, weight_decay=1e-3, seed=6)[1])
    schedulers = dict(
        gen=[MultiStepLR(new['gen'], by_epoch=True, milestones=[2])],
        disc=[MultiStepLR(new['disc'], by_epoch=False, milestones=[5])])
    runner, lines = _runner(new, schedulers, epoch=3, it=6)
    _restore(KDEPContinueHook(CKPT), runner, ckpt)
    gen, disc = new['gen'].param_groups[0], new['disc'].param_groups[0]
    assert gen['lr'] == pytest.approx(0.02) and gen['momentum'] == 0.8
    assert gen['weight_decay'] == 0.0
    assert disc['lr'] == pytest.approx(0.003) and disc['momentum'] == 0.7
    assert disc['weight_decay'] == 1e-3
    assert [s.last_step for v in schedulers.values() for s in v] == [3, 6]
    assert 'gen=0.02, disc=0.003' in lines[0]


def test_a_different_number_of_parameter_groups_is_refused():
    """A config that splits the parameters differently (paramwise_cfg)
    cannot take over the checkpoint's groups: a clear error naming both
    counts and the way out, before anything is loaded."""
    _, ckpt = _diverged_run()  # one group
    _, wrapper = _wrapper(lr=0.05, momentum=0.9, weight_decay=1e-4, split=True)
    runner, _ = _runner(wrapper, [], epoch=1, it=3)
    hook = KDEPContinueHook(CKPT)
    with pytest.raises(ValueError) as err:
        hook.after_load_checkpoint(runner, ckpt)
    assert str(err.value) == (
        f'cannot continue from {CKPT}: it has 1 optimiser parameter groups, '
        'the config builds 2 (paramwise_cfg changed?); start a new run with '
        'load_from= instead.')


def test_loading_weights_only_is_left_alone():
    """``load_from=`` (the runner is not resuming): the checkpoint is
    untouched and no schedule is stepped, nothing is logged."""
    _, ckpt = _diverged_run()
    before = copy.deepcopy(ckpt)
    wrapper, schedulers = _fixed()
    runner, lines = _runner(wrapper, schedulers, epoch=1, it=3, resume=False)
    hook = KDEPContinueHook(CKPT)
    hook.after_load_checkpoint(runner, ckpt)
    hook.before_train(runner)
    assert ckpt.keys() == before.keys()
    assert ckpt['optimizer']['param_groups'] == \
        before['optimizer']['param_groups']
    assert ckpt['param_schedulers'] == before['param_schedulers']
    assert schedulers[0].last_step == 0
    assert wrapper.param_groups[0]['lr'] == pytest.approx(0.05)
    assert lines == []
