"""The KDEP distiller: a student backbone and a list of loss terms whose
targets come from a frozen teacher online or from a target cache.

Shaped like mmpretrain's self-supervised algorithms: the student is
``self.backbone`` (so a pre-training checkpoint loads downstream with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``),
``extract_feat`` gives its distilled feature and ``loss`` the KDEP loss.
The terms (:mod:`.terms`) make the kinds of run one model: the paper's
KDEP is one pooled term, Dense KDEP adds map terms, cached training reads
the same terms from a cache (``DenseKDEP`` and ``CachedKDEP`` are names
that build this model from their older arguments).

The teacher is built only if a term reads it online, from config, loaded
strictly from its own file. It is deliberately *not* a registered
sub-module: it never appears in ``state_dict`` (checkpoints hold the
student, the alignment state and the data preprocessor only; a resumed run
rebuilds the teacher from its file), the optimiser and DDP never see it,
and ``train()`` cannot switch it out of eval mode. ``.to()`` / ``.cuda()``
still move it, through ``_apply``.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS

from ..basis.lifecycle import install_basis_file
from ..datasets.target_cache import TargetCache
from ..utils.misc import (IMAGENET_MEAN, IMAGENET_STD, build_mmpretrain,
                          to_plain)
from .taps import FeatureTap, build_tap, measure_strides, warn_post_activation
from .teacher import build_teacher
from .term_forward import TermForward
from .terms import (Term, build_align, build_cached_align, build_loss,
                    log_resampled, map_tap, scaled, term_cfgs, term_name)


def default_data_preprocessor() -> dict:
    """:class:`KDEPDataPreprocessor` (mmpretrain's ``ClsDataPreprocessor``,
    plus batched cached targets) with ImageNet mean / std and BGR -> RGB:
    what the student (and an ImageNet teacher) expect."""
    return dict(
        type='KDEPDataPreprocessor',
        mean=list(IMAGENET_MEAN),
        std=list(IMAGENET_STD),
        to_rgb=True)


@MODELS.register_module()
class KDEP(TermForward, BaseModel):
    """Knowledge Distillation as Efficient Pre-training.

    Args:
        backbone (dict): The student backbone config (any mmpretrain
            backbone). It is the only part that goes downstream.
        teacher (dict, optional): ``model``, ``checkpoint`` and ``prefix``;
            see :func:`~kdep_mm.models.teacher.build_teacher`. Required if
            a term reads the teacher online.
        terms (Sequence[dict], optional): The loss terms (see
            :mod:`kdep_mm.models.terms` for their one spelling). Defaults
            to the paper's single pooled term, made of ``align``, ``loss``,
            ``student_tap`` and ``teacher_tap``.
        cache (str, optional): A target cache folder
            (``tools/build_target_cache.py``); terms then default to
            ``source='cache'``. The pipeline's ``ReplayCachedCrop`` reads
            the same folder (bound when training starts).
        align (dict): The pooled term's alignment. Defaults to
            ``SVDPTSAlignment(temperature=0.1, power=3)``.
        loss (dict): The pooled term's loss. Defaults to
            ``KDEPLoss(mode='mse', loss_weight=3.0)``.
        student_tap (None | str | dict): The student's pooled feature
            (None = the built-in pre-activation tap; see
            :func:`~kdep_mm.models.taps.build_tap`): ``extract_feat`` and
            the pooled term read it, unless that term names its own.
        teacher_tap (None | str | dict): The teacher's, likewise.
        teacher_scale (float): The teacher sees each image resized by this
            factor (bilinear, the basis pass and the cache build included):
            a teacher at a higher resolution than the student (e.g. 2.0
            for a ViT/14 teacher of a stride-8 student); its maps are
            resampled to the student's grid. Part of the teacher's
            identity (basis files and caches).
        basis_file (str, optional): Load the bases from this file (checked
            against the teacher) instead of computing them.
        probe_size (int): Image size of the dry runs that measure the
            feature widths and strides when the model is built.
        channels_last (bool): Run both networks in channels-last memory
            format (faster convolutions on most hardware).
        compile (bool | dict): ``torch.compile`` the networks in place
            (``nn.Module.compile``: parameter names and checkpoints are
            unchanged): ``True`` for both, or ``dict(student=bool,
            teacher=bool)``. Off by default; see benchmarks/README.md.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor`` with ImageNet mean/std and BGR->RGB.
        init_cfg (dict, optional): Initialisation of the student.
    """

    def __init__(self,
                 backbone: dict,
                 teacher: Optional[dict] = None,
                 terms: Optional[Sequence[dict]] = None,
                 cache: Optional[str] = None,
                 align: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 student_tap: Union[None, str, dict] = None,
                 teacher_tap: Union[None, str, dict] = None,
                 teacher_scale: float = 1.0,
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
        terms = term_cfgs(terms, cache, align, loss)
        self.teacher_scale = float(teacher_scale)
        self.student_cfg = to_plain(backbone)
        self.backbone = build_mmpretrain(backbone)
        self.cache_folder = cache
        self._open_cache(cache, terms)
        teacher_net, teacher_info = None, None
        if any(t['source'] == 'teacher' for t in terms):
            if teacher is None:
                raise ValueError(
                    'a term reads the teacher online (source=teacher) but '
                    'the model has no teacher=dict(model=..., checkpoint='
                    '...); give one, or read every term from a cache')
            teacher_net, teacher_info = build_teacher(teacher)
            if self._cache is not None:  # online and cached terms: one teacher
                self._cache.check_teacher(teacher_info['fingerprint'])
        # Not a sub-module on purpose (see the module docstring).
        object.__setattr__(self, 'teacher', teacher_net)
        pooled = [t for t in terms if t.get('stride') is None]
        pooled = pooled[0] if pooled else {}
        self.student_tap: FeatureTap = build_tap(
            self.backbone, pooled.get('student_tap', student_tap))
        self.teacher_tap: Optional[FeatureTap] = None
        if self.teacher is not None:
            self.teacher_tap = build_tap(
                self.teacher, pooled.get('teacher_tap', teacher_tap))
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.probe_size = probe_size
        d_s, d_t = self._probe_widths(probe_size)
        #: The one description of the teacher (checkpoints, exported
        #: students, basis files and caches record it).
        self.teacher_meta = dict(
            teacher_info, tap=self.teacher_point(self.teacher_tap),
            width=d_t) if teacher_info else self._cache.teacher
        self.terms: List[Term] = []
        self.dense_align = nn.ModuleList()
        self.dense_loss = nn.ModuleList()
        self._basis_gen = torch.Generator().manual_seed(0)
        self._last = OrderedDict()
        for cfg in terms:
            self._add_term(cfg, d_s, d_t)
        if basis_file is not None:
            install_basis_file(self, basis_file)
        if not isinstance(compile, dict):
            compile = dict(student=compile, teacher=compile)
        # After the probes, so that nothing is compiled for their size.
        if compile.get('student'):
            self.backbone.compile()
        if compile.get('teacher') and self.teacher is not None:
            self.teacher.compile()

    # ------------------------------------------------------------------ set-up
    def _open_cache(self, cache: Optional[str], terms: List[dict]) -> None:
        self._cache = None
        if cache is not None:
            self._cache = TargetCache(cache)
            self._cache.check_columns(
                [term_name(t) for t in terms if t['source'] == 'cache'])

    def _probe_widths(self, size: int):
        """The pooled feature widths (d_s, d_t) from the one dry run of
        each network (a post-activation point is warned about)."""
        widths = []
        for who, net, tap, scale in (('student', self.backbone,
                                      self.student_tap, 1.0),
                                     ('teacher', self.teacher,
                                      self.teacher_tap, self.teacher_scale)):
            if net is None:
                widths.append(None)
                continue
            found = measure_strides(net, [tap], scaled(size, scale))[0]
            warn_post_activation(found, who, tap)
            widths.append(found['channels'])
        return tuple(widths)

    def teacher_point(self, tap: FeatureTap) -> str:
        """A teacher tap's identity: its description, and the scale when
        the teacher sees resized images."""
        scale = self.teacher_scale
        return tap.describe() + ('' if scale == 1 else f':scale={scale:g}')

    def _add_term(self, cfg: dict, d_s: int, d_t: Optional[int]) -> None:
        name, source = term_name(cfg), cfg['source']
        stride = cfg.get('stride')
        student_tap, teacher_tap = self.student_tap, self.teacher_tap
        if stride is not None:
            stride = int(stride)
            student_tap, s = map_tap(self.backbone, cfg.get('student_tap'),
                                     stride, self.probe_size, True, 'student')
            d_s = s['channels']
            if source == 'teacher':
                teacher_tap, t = map_tap(self.teacher, cfg.get('teacher_tap'),
                                         stride, self.probe_size, False,
                                         'teacher', self.teacher_scale)
                d_t, t_stride = t['channels'], t['stride']
                t_tap = self.teacher_point(teacher_tap)
                log_resampled(name, t_stride, stride, t_tap)
        if source == 'cache':
            teacher_tap = None
            column = self._cache.columns[name]
            d_t, t_tap = column['d_t'], column['teacher_tap']
            t_stride = column.get('teacher_stride')
        elif stride is None:
            t_tap = self.teacher_point(teacher_tap)
        align = build_align(cfg, name, stride, source)
        if source == 'cache':
            build_cached_align(align, name, d_s, column)
        else:
            align.build(d_s, d_t)
        loss = build_loss(cfg, 3.0 if stride is None else 1.0)
        if stride is None:
            self.align, self.loss_module = align, loss
            info = dict(name=name, teacher_tap=t_tap, d_t=d_t, d_s=d_s)
        else:
            self.dense_align.append(align)
            self.dense_loss.append(loss)
            info = dict(
                name=name,
                stride=stride,
                teacher_stride=t_stride,
                student_tap=student_tap.describe(),
                teacher_tap=t_tap,
                d_s=d_s,
                d_t=d_t,
                k=align.k,
                loss_weight=loss.loss_weight,
                locations_per_image=cfg.get('locations_per_image'))
        self.terms.append(
            Term(name, stride, source, align, loss, student_tap, teacher_tap,
                 info))

    # ----------------------------------------------------------- module glue
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self.teacher is not None:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'KDEP':
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen, whatever mode the distiller is in
        return self

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor',
                kdep_targets: Optional[dict] = None):
        if mode == 'loss':
            return self.loss(inputs, data_samples, kdep_targets)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'Invalid mode "{mode}".')
