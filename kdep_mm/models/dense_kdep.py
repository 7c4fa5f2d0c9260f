"""Dense KDEP: non-parametric targets on feature *maps*, for the detection
and segmentation users that pre-train backbones.

KDEP distils one pooled vector per image; detection and segmentation heads
read maps (an FPN reads C2-C5). Dense KDEP extends the paper's target to
every location of a stage without adding anything that learns: the
teacher's pre-activation map at a stride is centred and projected, at each
location, on the top-k PCA directions of its *location vectors* (a fixed
1x1 projection ``(F_t - mu) @ V``), power-temperature scaled, and the
student's pre-activation map at the same stride regresses on it (MSE over
locations and channels). The student stays the plain backbone: no adaptor
is ever trained.

``loss = w_pool * pooled + sum_l w_l * dense_l``. This is the one
distiller, :class:`KDEP`, with a pooled term (``pooled=True``; its weight
is ``loss.loss_weight``) and one map term per stage; ``DenseKDEP`` is the
name that builds it from the ``dense=`` spelling, kept for every existing
config, checkpoint and basis file.
"""
from typing import Optional, Sequence

from mmpretrain.registry import MODELS

from .kdep import KDEP


@MODELS.register_module()
class DenseKDEP(KDEP):
    """KDEP with non-parametric dense targets at one or more strides.

    Args:
        dense (Sequence[dict]): One map term per stage (see
            :mod:`kdep_mm.models.terms`): ``stride`` (the student map's
            stride; the teacher's map at the same stride is used, or its
            nearest, resampled), ``loss_weight`` (its weight, 1.0),
            ``student_tap`` / ``teacher_tap``, ``align`` (defaults: T =
            0.1, n = 3, rank_policy='mask'), ``locations_per_image``.
        pooled (bool): Keep the paper's pooled term (weight:
            ``loss.loss_weight``). False: map terms only.
        **kwargs: :class:`KDEP`'s arguments.
    """

    def __init__(self,
                 dense: Sequence[dict],
                 pooled: bool = True,
                 align: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 **kwargs):
        if not dense:
            raise ValueError('DenseKDEP needs at least one dense stage; use '
                             'KDEP for the pooled target alone')
        terms = [
            dict(
                align=align or dict(type='SVDPTSAlignment'),
                loss=loss
                or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
        ] if pooled else []
        for stage in dense:
            stage = dict(stage)
            if 'loss_weight' in stage:
                stage['weight'] = stage.pop('loss_weight')
            terms.append(stage)
        super().__init__(terms=terms, **kwargs)
