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

The teacher (or each of several, :mod:`.teachers`) is built only if a
term reads it online, from config, loaded strictly from its own file.
It is deliberately *not* a registered sub-module: it never appears in
``state_dict`` (checkpoints hold the student, the alignment state and the
data preprocessor only; a resumed run rebuilds the teacher from its file),
the optimiser and DDP never see it, and ``train()`` cannot switch it out of
eval mode. ``.to()`` / ``.cuda()`` still move it, through ``_apply``.
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS

from ..basis.lifecycle import install_basis_file
from ..datasets.target_cache import TargetCache
from ..utils.misc import (IMAGENET_MEAN, IMAGENET_STD, build_mmpretrain,
                          to_plain)
from .taps import (FeatureTap, build_tap, measure_strides, scaled,
                   warn_post_activation)
from .teachers import Teacher, make_teachers, teachers_meta
from .term_forward import TermForward
from .terms import Term, build_term, term_cfgs, term_name


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
        teachers (Sequence[dict], optional): Several teachers instead of
            ``teacher``: each ``teacher``'s keys plus ``name``, ``weight``
            (of its terms; its share of the student by default),
            ``channels`` (the fraction of each student feature it
            distils) and ``scale`` (its ``teacher_scale``); see
            :mod:`kdep_mm.models.teachers`. A term that names no
            ``teacher=`` is one term per teacher.
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
                 init_cfg: Optional[dict] = None,
                 teachers: Optional[Sequence[dict]] = None):
        if data_preprocessor is None:
            data_preprocessor = default_data_preprocessor()
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.teacher_scale = float(teacher_scale)
        #: The teachers, in order (one, named '', for ``teacher=``).
        self.teachers_list = make_teachers(teacher, teachers, teacher_scale)
        names = [t.name for t in self.teachers_list]
        terms = term_cfgs(terms, cache, align, loss, names)
        self.student_cfg = to_plain(backbone)
        self.backbone = build_mmpretrain(backbone)
        self.cache_folder = cache
        self._open_cache(cache, terms)
        for t in self.teachers_list:
            if any(c['source'] == 'teacher' and c['teacher'] == t.name
                   for c in terms):
                t.build()
        self._check_cache_teachers(names)
        # Not a sub-module on purpose (see the module docstring).
        object.__setattr__(
            self, 'teacher',
            self.teachers_list[0].net if names == [''] else None)
        pooled = {t['teacher']: t for t in terms if t.get('stride') is None}
        self.student_tap: FeatureTap = build_tap(
            self.backbone,
            next(iter(pooled.values()), {}).get('student_tap', student_tap))
        for t in self.teachers_list:
            if t.net is not None:
                t.tap = build_tap(
                    t.net,
                    pooled.get(t.name, {}).get('teacher_tap', teacher_tap))
        self.teacher_tap: Optional[FeatureTap] = self.teachers_list[0].tap
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.probe_size = probe_size
        d_s, d_t = self._probe_widths(probe_size)
        #: The one description of the teacher(s) (checkpoints, exported
        #: students, basis files and caches record it).
        self.teacher_meta = self._describe_teachers(d_t)
        self.terms: List[Term] = []
        self.dense_align = nn.ModuleList()
        self.dense_loss = nn.ModuleList()
        self._basis_gen = torch.Generator().manual_seed(0)
        self._last = OrderedDict()
        for cfg in terms:
            term = build_term(self, cfg, d_s, d_t)
            if term.name == 'pooled':  # the paper's: its state at align.*
                self.align, self.loss_module = term.align, term.loss
            else:
                self.dense_align.append(term.align)
                self.dense_loss.append(term.loss)
            self.terms.append(term)
        if basis_file is not None:
            install_basis_file(self, basis_file)
        if not isinstance(compile, dict):
            compile = dict(student=compile, teacher=compile)
        # After the probes, so that nothing is compiled for their size.
        if compile.get('student'):
            self.backbone.compile()
        for t in self.teachers_list:
            if compile.get('teacher') and t.net is not None:
                t.net.compile()

    # ------------------------------------------------------------------ set-up
    def _open_cache(self, cache: Optional[str], terms: List[dict]) -> None:
        self._cache = None
        if cache is not None:
            self._cache = TargetCache(cache)
            self._cache.check_columns(
                [term_name(t) for t in terms if t['source'] == 'cache'])

    def _check_cache_teachers(self, names: List[str]) -> None:
        """Terms of a cache and of teachers online (or several teachers):
        the cache's teachers must be these, in this order."""
        if self._cache is None:
            return
        built = {
            t.name: t.info['fingerprint']
            for t in self.teachers_list if t.net is not None
        }
        if names != ['']:
            self._cache.check_teachers(names, built)
        elif built:  # online and cached terms: one teacher
            self._cache.check_teacher(built[''])

    def _probe_widths(self, size: int) -> Tuple[int, Dict[str, int]]:
        """The pooled feature widths (d_s, d_t per teacher) from the one
        dry run of each network (a post-activation point is warned
        about)."""

        def width(who, net, tap, scale):
            found = measure_strides(net, [tap], scaled(size, scale))[0]
            warn_post_activation(found, who, tap)
            return found['channels']

        d_s = width('student', self.backbone, self.student_tap, 1.0)
        return d_s, {
            t.name:
            width('teacher' + (f' {t.name}' if t.name else ''), t.net, t.tap,
                  t.scale)
            for t in self.teachers_list if t.net is not None
        }

    def _describe_teachers(self, d_t: Dict[str, int]) -> Dict:
        first = self.teachers_list[0]
        if len(d_t) < len(self.teachers_list):  # some read from the cache
            return self._cache.teacher
        if first.name == '':
            return dict(first.info, tap=first.point(first.tap), width=d_t[''])
        return teachers_meta(self.teachers_list, d_t)

    def teacher_of(self, name: str) -> Teacher:
        """The teacher named ``name`` (``''``: the one ``teacher=``)."""
        return next(t for t in self.teachers_list if t.name == name)

    def teacher_point(self, tap: FeatureTap) -> str:
        """The single teacher's tap identity (see :meth:`Teacher.point`)."""
        return self.teachers_list[0].point(tap)

    # ----------------------------------------------------------- module glue
    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for t in self.teachers_list:
            if t.net is not None:
                t.net._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'KDEP':
        super().train(mode)
        for t in self.teachers_list:
            if t.net is not None:  # frozen, whatever mode the distiller is in
                t.net.eval()
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
