"""Exact resumption: the random state of data augmentation in checkpoints.

mmengine checkpoints hold the weights, the optimiser, the schedulers and the
loop counters, but not the state of the random number generators that drive
data augmentation (Python ``random``, NumPy, torch). A resumed run therefore
draws other crops and flips than the uninterrupted run would have, and ends
with other weights. This hook closes that gap, for the two mmengine loops:

* ``EpochBasedTrainLoop`` (checkpoints at epoch ends): the generators'
  state at the end of every epoch is recorded (on every rank) and saved with
  the checkpoint; every epoch, in the uninterrupted run and in the resumed
  one alike, starts from the state recorded at the end of the previous one
  (so validation in between cannot shift it either). A run killed in the
  middle of epoch ``e`` resumes from the checkpoint of epoch ``e - 1`` and
  redoes epoch ``e`` exactly.
* ``IterBasedTrainLoop`` (checkpoints at any iteration): on resume mmengine
  replays the data loader up to the checkpoint's iteration (loading and
  augmenting the skipped batches again). The state at the first training
  iteration is saved and restored before that replay, so the replay
  consumes the random streams exactly as the first run did.

A checkpoint taken in the middle of an epoch of an ``EpochBasedTrainLoop``
cannot be resumed exactly: mmengine restarts that epoch from its first
batch. The hook warns when asked to resume from one.

The guarantee holds in deterministic mode (``randomness=dict(seed=...,
deterministic=True)``), with the same number of processes, and with data
loader workers that are re-created every epoch (``num_workers=0``, or
``persistent_workers=False``): persistent workers keep random streams in
processes that no checkpoint can see.
"""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

KEY = 'kdep_random_state'


def get_random_state() -> dict:
    """This process's generator states, as plain tensors and tuples
    (readable with ``weights_only=True``)."""
    version, keys, gauss = random.getstate()
    name, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=(version, tuple(keys), gauss),
        numpy=dict(
            name=str(name),
            keys=torch.from_numpy(np_keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore what :func:`get_random_state` recorded."""
    version, keys, gauss = state['python']
    random.setstate((version, tuple(keys), gauss))
    np_state = state['numpy']
    np.random.set_state(
        (np_state['name'], np_state['keys'].cpu().numpy().astype(np.uint32),
         np_state['pos'], np_state['has_gauss'], np_state['cached']))
    # A resumed checkpoint may have been mapped to the GPU.
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


def gather_random_state() -> List[dict]:
    """Every rank's state (collective: call it on all ranks)."""
    state = get_random_state()
    if dist.get_world_size() == 1:
        return [state]
    return dist.all_gather_object(state)


@HOOKS.register_module()
class KDEPRandomStateHook(Hook):
    """Save the augmentation random state with checkpoints; restore it on
    resume so that a resumed run matches an uninterrupted one bit for bit.

    See the module docstring for when the guarantee holds.
    """

    # Record at the end of an epoch before CheckpointHook (VERY_LOW) saves.
    priority = 'HIGH'

    def __init__(self) -> None:
        self._saved: Optional[dict] = None  # what goes into checkpoints
        self._pending: Optional[dict] = None  # what the next epoch restores
        self._inexact: List[str] = []  # why a resume cannot be bit-exact
        self._from_checkpoint = False  # _pending came from a checkpoint

    @staticmethod
    def inexact_reasons(cfg) -> List[str]:
        """The settings of ``cfg`` under which a resumed run cannot match
        an uninterrupted one bit for bit (see the module docstring)."""
        reasons = []
        loader = cfg.get('train_dataloader') or {}
        if loader.get('num_workers', 0) > 0 and loader.get(
                'persistent_workers', False):
            reasons.append(
                f"train_dataloader.persistent_workers=True with num_workers="
                f"{loader['num_workers']} (the workers' random streams live "
                'in processes no checkpoint sees; set persistent_workers='
                'False, or tools/train.py --no-persistent-workers)')
        randomness = cfg.get('randomness') or {}
        if randomness.get('seed') is None:
            reasons.append('randomness.seed is not set')
        if not randomness.get('deterministic', False):
            reasons.append(
                'randomness.deterministic=False (non-deterministic kernels '
                'may differ, on GPUs in particular)')
        return reasons

    def before_run(self, runner) -> None:
        self._inexact = self.inexact_reasons(getattr(runner, 'cfg', {}) or {})
        if self._inexact:
            runner.logger.warning(
                'KDEP: a resumed run is not guaranteed to be bit-identical '
                'to an uninterrupted one with these settings: ' +
                '; '.join(self._inexact) + '. For an exact resume, start '
                'with --cfg-options randomness.seed=0 '
                'randomness.deterministic=True '
                'train_dataloader.persistent_workers=False')

    @staticmethod
    def _iter_based(runner) -> bool:
        return isinstance(runner.train_loop, IterBasedTrainLoop)

    def _restore(self, runner, record: dict, what: str) -> None:
        states = record['states']
        rank, world = dist.get_rank(), dist.get_world_size()
        if len(states) != world:
            runner.logger.warning(
                f'the checkpoint holds the random state of {len(states)} '
                f'process(es) but this run has {world}: augmentation will '
                'not replay exactly')
            return
        set_random_state(states[rank])
        if not self._from_checkpoint:
            return  # the next epoch of this run: nothing to report
        self._from_checkpoint = False
        if self._inexact:
            runner.logger.warning(
                f'KDEP: random state restored ({what}), but the resumed '
                'run is not guaranteed bit-exact: ' + '; '.join(self._inexact))
        else:
            runner.logger.info(f'KDEP: random state restored ({what})')

    # ------------------------------------------------------------- recording
    def before_train_epoch(self, runner) -> None:
        if self._pending is not None:  # a resumed run, or the next epoch
            self._restore(runner, self._pending,
                          f'as at iteration {self._pending["iter"]}')
            if self._iter_based(runner):
                self._saved = self._pending
            self._pending = None
        elif self._iter_based(runner):
            # The single "epoch" of an iteration-based loop: the state that
            # a resumed run restores before replaying the data loader.
            self._saved = dict(
                states=gather_random_state(),
                iter=runner.iter,
                kind='iter_based_start')

    def after_train_epoch(self, runner) -> None:
        if self._iter_based(runner):
            return
        record = dict(
            states=gather_random_state(), iter=runner.iter, kind='epoch_end')
        self._saved = record
        self._pending = record

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        ckpt_iter = checkpoint.get('meta', {}).get('iter', runner.iter)
        if self._iter_based(runner):
            if self._saved is not None:
                checkpoint[KEY] = self._saved
        elif self._saved is not None and self._saved['iter'] == ckpt_iter:
            checkpoint[KEY] = self._saved
        else:
            # A mid-epoch checkpoint of an epoch-based loop: no recorded
            # state belongs to it.
            checkpoint[KEY] = dict(kind='mid_epoch', iter=ckpt_iter)

    # ---------------------------------------------------------------- resume
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from= without resuming: a new run
        record = checkpoint.get(KEY)
        if record is None:
            runner.logger.warning(
                'the checkpoint has no KDEP random state (made without '
                'KDEPRandomStateHook): the resumed run will draw other '
                'augmentations than an uninterrupted one')
            return
        if record.get('kind') == 'mid_epoch':
            runner.logger.warning(
                f'the checkpoint was saved in the middle of an epoch (iter '
                f'{record["iter"]}); mmengine\'s EpochBasedTrainLoop '
                'restarts that epoch from its first batch, so this run will '
                'not match an uninterrupted one. Save checkpoints at epoch '
                'ends, or use IterBasedTrainLoop, for exact resumption.')
            return
        self._pending = record
        self._from_checkpoint = True
