"""KDEP from a cache of teacher targets: no teacher in memory, no teacher
forward in the step.

The cache (``tools/build_target_cache.py``) holds, per image, R crops and
each crop's teacher feature centred and projected on the top-r PCA
directions (and, for map terms, each stage's projected map). The training
pipeline replays one of the crops (:class:`~kdep_mm.datasets.
ReplayCachedCrop`) and packs its targets; the terms read the first k
values (the directions are nested, so a student of width k <= r reads a
prefix), apply PTS and the rank mask and regress the student's feature on
them, exactly as with the teacher online. Several students train from one
cache by config alone.

This is the one distiller, :class:`KDEP`, with ``cache=`` and its terms
reading it; ``CachedKDEP`` is the name that builds the pooled case from
the older flat spelling (``temperature`` / ``power`` / ``use_pts``), kept
for existing configs and checkpoints.
"""
from typing import Optional

from mmpretrain.registry import MODELS

from .kdep import KDEP


@MODELS.register_module()
class CachedKDEP(KDEP):
    """KDEP whose pooled target comes from a target cache.

    Args:
        backbone (dict): The student backbone (any mmpretrain backbone).
        cache (str): The cache folder.
        temperature (float): T of PTS. Defaults to 0.1.
        power (float): n of PTS. Defaults to 3.
        use_pts (bool): False: the projections themselves are the targets.
        loss (dict): Defaults to ``KDEPLoss(mode='mse', loss_weight=3.0)``.
        terms (Sequence[dict], optional): Instead of the flat spelling,
            the terms (pooled and map terms) to read from the cache.
        **kwargs: :class:`KDEP`'s other arguments.
    """

    def __init__(self,
                 backbone: dict,
                 cache: str,
                 temperature: float = 0.1,
                 power: float = 3.0,
                 use_pts: bool = True,
                 loss: Optional[dict] = None,
                 terms=None,
                 **kwargs):
        if terms is None:
            terms = [
                dict(
                    align=dict(
                        temperature=temperature, power=power, use_pts=use_pts),
                    loss=loss
                    or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
            ]
        super().__init__(backbone=backbone, cache=cache, terms=terms, **kwargs)

    @property
    def num_targets(self) -> int:
        """Directions distilled by the pooled term."""
        return self.align.num_targets

    def target(self, z):
        """PTS (and rank mask) of the cached pooled projections ``z``."""
        return self.align.match(z[:, :self.align.k],
                                self.align.scale(z[:, :self.align.k]))[1]
