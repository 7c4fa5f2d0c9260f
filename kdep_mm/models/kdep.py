"""The KDEP distiller: a frozen teacher, a student backbone, an alignment.

Shaped like mmpretrain's self-supervised algorithms: the student is
``self.backbone`` (so a pre-training checkpoint loads downstream with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``),
``extract_feat`` gives its distilled feature and ``loss`` the KDEP loss.

The teacher is built from config and loaded strictly from its own file. It
is deliberately *not* a registered sub-module: it never appears in
``state_dict`` (checkpoints hold the student, the alignment state and the
data preprocessor only; a resumed run rebuilds the teacher from its file),
the optimiser and DDP never see it, and ``train()`` cannot switch it out of
eval mode. ``.to()`` / ``.cuda()`` still move it, through ``_apply``.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS

from ..basis.io import load_basis_into
from ..utils.misc import (IMAGENET_MEAN, IMAGENET_STD, build_mmpretrain,
                          to_plain)
from .alignment import BaseAlignment
from .taps import FeatureTap, build_tap
from .teacher import build_teacher


def default_data_preprocessor() -> dict:
    """mmpretrain's ``ClsDataPreprocessor`` with ImageNet mean / std and
    BGR -> RGB: what the student (and an ImageNet teacher) expect."""
    return dict(
        type='ClsDataPreprocessor',
        mean=list(IMAGENET_MEAN),
        std=list(IMAGENET_STD),
        to_rgb=True)


@MODELS.register_module()
class KDEP(BaseModel):
    """Knowledge Distillation as Efficient Pre-training.

    Args:
        backbone (dict): The student backbone config (any mmpretrain
            backbone). It is the only part that goes downstream.
        teacher (dict): ``model``, ``checkpoint`` and ``prefix``; see
            :func:`~kdep_mm.models.teacher.build_teacher`.
        align (dict): The alignment. Defaults to
            ``SVDPTSAlignment(temperature=0.1, power=3)``.
        loss (dict): The loss. Defaults to ``KDEPLoss(mode='mse',
            loss_weight=3.0)``.
        student_tap (None | str | dict): The student's distilled feature
            (None = the built-in pre-activation tap; see
            :func:`~kdep_mm.models.taps.build_tap`).
        teacher_tap (None | str | dict): The teacher's distilled feature,
            likewise.
        basis_file (str, optional): Load the basis from this file (checked
            against the teacher) instead of computing it.
        probe_size (int): Image size of the dry run that measures the
            feature widths when the model is built.
        channels_last (bool): Run both networks in channels-last memory
            format (faster convolutions on most hardware).
        compile (bool | dict): ``torch.compile`` the networks in place
            (``nn.Module.compile``: parameter names and checkpoints are
            unchanged): ``True`` for both, or ``dict(student=bool,
            teacher=bool)``. Off by default; see benchmarks/README.md for
            what it gains and costs.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor`` with ImageNet mean/std and BGR->RGB.
        init_cfg (dict, optional): Initialisation of the student.
    """

    def __init__(self,
                 backbone: dict,
                 teacher: dict,
                 align: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 student_tap: Union[None, str, dict] = None,
                 teacher_tap: Union[None, str, dict] = None,
                 basis_file: Optional[str] = None,
                 probe_size: int = 224,
                 channels_last: bool = False,
                 compile: Union[bool, dict] = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = default_data_preprocessor()
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student_cfg = to_plain(backbone)
        self.backbone = build_mmpretrain(backbone)
        teacher_net, teacher_info = build_teacher(teacher)
        # Not a sub-module on purpose (see the module docstring).
        object.__setattr__(self, 'teacher', teacher_net)
        self.student_tap: FeatureTap = build_tap(self.backbone, student_tap)
        self.teacher_tap: FeatureTap = build_tap(self.teacher, teacher_tap)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        d_s, d_t = self._probe_widths(probe_size)
        self.align: BaseAlignment = MODELS.build(
            align or dict(type='SVDPTSAlignment'))
        self.align.build(d_s, d_t)
        #: The one description of the teacher (checkpoints, exported
        #: students and basis files record it).
        self.teacher_meta = dict(
            teacher_info, tap=self.teacher_tap.describe(), width=d_t)
        self.loss_module = MODELS.build(
            loss or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
        if basis_file is not None:
            load_basis_into(self, basis_file)
        if not isinstance(compile, dict):
            compile = dict(student=compile, teacher=compile)
        # After the probe, so that nothing is compiled for its input size.
        if compile.get('student'):
            self.backbone.compile()
        if compile.get('teacher'):
            self.teacher.compile()

    # ------------------------------------------------------------------ set-up
    @torch.no_grad()
    def _probe_widths(self, size: int) -> Tuple[int, int]:
        """Measure the distilled feature widths with one dry run."""
        probe = torch.zeros(1, 3, size, size)
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            d_s = self.extract_feat(probe).shape[1]
            d_t = self.extract_teacher_feat(probe).shape[1]
        finally:
            self.backbone.train(was_training)
        return d_s, d_t

    def basis_slots(self) -> Dict[str, BaseAlignment]:
        """The alignments whose basis comes from the teacher's features,
        by name (the basis pass, the basis file and its checks use it)."""
        return {'pooled': self.align} if self.align.needs_basis else {}

    def slot_identity(self, name: str) -> Dict:
        """The teacher tap and width that slot ``name``'s basis belongs to
        (recorded in the basis file, checked at load)."""
        assert name == 'pooled', name
        return dict(
            teacher_tap=self.teacher_meta['tap'],
            d_t=self.teacher_meta['width'])

    @torch.no_grad()
    def basis_features(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Per basis slot, the teacher's feature rows (N, D_t) of a batch
        that its basis is computed from."""
        return {'pooled': self.extract_teacher_feat(inputs)}

    def kdep_meta(self) -> Dict:
        """What a checkpoint records about this distillation."""
        return dict(
            student=self.student_cfg,
            student_tap=self.student_tap.describe(),
            teacher=self.teacher_meta,
            align=type(self.align).__name__)

    # ----------------------------------------------------------- module glue
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'KDEP':
        super().train(mode)
        self.teacher.eval()  # frozen, whatever mode the distiller is in
        return self

    # ---------------------------------------------------------------- forward
    def _prepare(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The student's distilled (pooled, pre-activation) feature."""
        self.student_tap.reset()
        self.backbone(self._prepare(inputs))
        return self.student_tap.pop()

    @torch.no_grad()
    def extract_teacher_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's distilled feature (no autograd, eval mode)."""
        self.teacher_tap.reset()
        inputs = self._prepare(inputs)
        if isinstance(self.teacher, BaseModel):  # a whole classifier
            self.teacher(inputs, mode='tensor')
        else:
            self.teacher(inputs)
        return self.teacher_tap.pop()

    def _aligned(self,
                 inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The student's prediction and its target for a batch."""
        f_t = self.extract_teacher_feat(inputs)
        return self.align(self.extract_feat(inputs), f_t)

    def loss(self,
             inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        """The KDEP loss of a batch (labels, if any, are ignored)."""
        return dict(loss=self.loss_module(*self._aligned(inputs)))

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None) -> List[Dict]:
        """Per-image prediction and target, for :class:`KDEPR2Metric`."""
        pred, target = self._aligned(inputs)
        return [
            dict(pred=p.detach().cpu(), target=t.detach().cpu())
            for p, t in zip(pred, target)
        ]

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'Invalid mode "{mode}".')
