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
import copy
import hashlib
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

from ..utils.basis_file import load_basis
from ..utils.checkpoint import (get_state_dict, load_state_dict_strict,
                                load_weights)
from .alignment import BaseAlignment
from .taps import FeatureTap, build_tap


def plain(obj):
    """Config objects as plain dicts/lists (checkpoint metadata must load
    with ``weights_only=True``, which refuses mmengine's ConfigDict)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def weights_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's weights (keys, shapes and values)."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def build_mmpretrain(cfg: dict) -> nn.Module:
    """Build from mmpretrain's registry whatever the current default scope
    (inside an mmdet run, ``type='MobileNetV2'`` would else be mmdet's,
    whose keys differ)."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def build_teacher(cfg: dict) -> Tuple[nn.Module, dict]:
    """Build the teacher network and load its weights strictly.

    Args:
        cfg (dict): ``model`` (any mmpretrain model config: a backbone or a
            whole classifier), ``checkpoint`` (path or URL; required),
            ``prefix`` (optional: load only keys under it, e.g.
            ``'backbone.'`` to take a backbone out of a classifier file).

    Returns:
        tuple: The frozen network (eval mode, no grad) and a description
        (model config, checkpoint, fingerprint).
    """
    cfg = copy.deepcopy(dict(cfg))
    unknown = set(cfg) - {'model', 'checkpoint', 'prefix', 'tap'}
    if unknown or 'model' not in cfg:
        raise ValueError(
            'teacher must be dict(model=<mmpretrain model config>, '
            f'checkpoint=<path or URL>, prefix=None, tap=None); got keys '
            f'{sorted(cfg)}')
    checkpoint = cfg.get('checkpoint')
    if not checkpoint:
        raise ValueError('teacher.checkpoint is required: KDEP distils a '
                         'pre-trained teacher, not a random one')
    model_cfg = copy.deepcopy(cfg['model'])
    model_cfg.pop('init_cfg', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg['backbone'].pop('init_cfg', None)
    teacher = build_mmpretrain(model_cfg)
    state = get_state_dict(load_weights(checkpoint), prefix=cfg.get('prefix'))
    load_state_dict_strict(
        teacher,
        state,
        source=f'teacher checkpoint {checkpoint}',
        ignore_missing=('num_batches_tracked', ))
    teacher.eval()
    teacher.requires_grad_(False)
    info = dict(
        model=plain(cfg['model']),
        checkpoint=checkpoint,
        prefix=cfg.get('prefix'),
        fingerprint=weights_fingerprint(teacher))
    return teacher, info


@MODELS.register_module()
class KDEP(BaseModel):
    """Knowledge Distillation as Efficient Pre-training.

    Args:
        backbone (dict): The student backbone config (any mmpretrain
            backbone). It is the only part that goes downstream.
        teacher (dict): ``model``, ``checkpoint``, ``prefix`` and ``tap``;
            see :func:`build_teacher`. ``tap`` (None = the built-in
            pre-activation tap) names the teacher's distilled feature.
        align (dict): The alignment. Defaults to
            ``SVDPTSAlignment(temperature=0.1, power=3)``.
        loss (dict): The loss. Defaults to ``KDEPLoss(mode='mse',
            loss_weight=3.0)``.
        student_tap (None | str | dict): The student's distilled feature
            (None = the built-in pre-activation tap).
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
                 basis_file: Optional[str] = None,
                 probe_size: int = 224,
                 channels_last: bool = False,
                 compile: Union[bool, dict] = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='ClsDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                to_rgb=True)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student_cfg = plain(backbone)
        self.backbone = build_mmpretrain(backbone)
        teacher_net, self.teacher_info = build_teacher(teacher)
        # Not a sub-module on purpose (see the module docstring).
        object.__setattr__(self, 'teacher', teacher_net)
        self.student_tap: FeatureTap = build_tap(self.backbone, student_tap)
        self.teacher_tap: FeatureTap = build_tap(self.teacher,
                                                 teacher.get('tap'))
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        d_s, d_t = self._probe_widths(probe_size)
        self.align: BaseAlignment = MODELS.build(
            align or dict(type='SVDPTSAlignment'))
        self.align.build(d_s, d_t)
        self.loss_module = MODELS.build(
            loss or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
        self.basis_file = basis_file
        if basis_file is not None:
            self.load_basis_file(basis_file)
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

    @property
    def teacher_identity(self) -> Dict:
        """What a basis file must match to be used with this teacher."""
        return dict(
            teacher_fingerprint=self.teacher_info['fingerprint'],
            teacher_tap=self.teacher_tap.describe(),
            d_t=self.align.d_t)

    def load_basis_file(self, filename: str) -> None:
        """Install a basis from a file, refusing one made for another
        teacher, tap or width."""
        if not self.align.needs_basis:
            raise ValueError(f'{type(self.align).__name__} uses no basis; '
                             'remove basis_file=')
        obj = load_basis(
            filename, expect=self.teacher_identity, k=self.align.k)
        self.align.set_basis(
            obj['mean'],
            obj['basis'],
            obj['spectrum'],
            num_images=obj['meta'].get('num_images', 0))
        MMLogger.get_current_instance().info(
            f'KDEP basis loaded from {filename} '
            f'({obj["meta"].get("num_images")} images, rank '
            f'{int(self.align.rank)})')

    def kdep_meta(self) -> Dict:
        """What a checkpoint records about this distillation."""
        return dict(
            student=self.student_cfg,
            teacher=dict(
                model=self.teacher_info['model'],
                checkpoint=self.teacher_info['checkpoint'],
                fingerprint=self.teacher_info['fingerprint']),
            student_tap=self.student_tap.describe(),
            teacher_tap=self.teacher_tap.describe(),
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
