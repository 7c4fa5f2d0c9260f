"""The terms of the KDEP loss: what the one distiller (:class:`KDEP`) is
made of.

A term pairs a student feature with a target and weighs their distance:

* its **student tap**: the pooled pre-activation feature (``stride=None``)
  or the pre-activation map at a stride (4-32, C2-C5);
* its **target source**: the frozen teacher online (``source='teacher'``,
  the teacher's point of the same kind; a teacher map at another stride is
  resampled to the student grid) or a column of a target cache
  (``source='cache'``: the stored projection of the same crop);
* its **alignment**, in two steps: ``project`` (centring + basis, linear;
  done by the cache builder for a cached term) and ``scale`` (PTS + rank
  mask, always at training time), so online and cached targets are the
  same function of the teacher;
* its **loss** and weight.

The paper's KDEP is one pooled term; Dense KDEP adds map terms; cached
training reads the same terms from the cache. One spelling configures
them all::

    dict(stride=None | 8 | 16 | 32, source='teacher' | 'cache',
         weight=1.0,                      # or loss=dict(type='KDEPLoss', ...)
         align=dict(temperature=0.1, power=3, use_pts=True,
                    rank_policy='mask'),  # any alignment for pooled terms
         student_tap=None, teacher_tap=None, locations_per_image=None,
         teacher=None)                    # one of teachers=, by name

With several teachers (:mod:`.teachers`), a term without ``teacher=``
stands for one term per teacher (``<teacher>/<name>``), each on its
teacher's slice of the student feature.
"""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmpretrain.registry import MODELS

from .alignment import BaseAlignment
from .losses import KDEPLoss
from .taps import FeatureTap, log_resampled, map_tap
from .teachers import Teacher, channel_slices

SOURCES = ('teacher', 'cache')
TERM_KEYS = frozenset(
    ('name', 'stride', 'source', 'weight', 'loss', 'align', 'student_tap',
     'teacher_tap', 'locations_per_image', 'teacher'))


class Term:
    """One term of the loss (built by :func:`build_term`).

    Attributes:
        name (str): ``pooled`` or ``dense_s<stride>`` (loss key
            ``loss_<name>``, basis slot, cache column).
        stride (int | None): None for the pooled feature.
        source (str): ``teacher`` or ``cache``.
        align (BaseAlignment): project / scale / match.
        loss (nn.Module): the criterion (its ``loss_weight`` is the weight).
        student_tap (FeatureTap): the student's point.
        teacher_tap (FeatureTap | None): the teacher's point (online terms).
        info (dict): plain identity of the term (taps, widths, strides),
            recorded in checkpoints and checked against basis files and
            caches.
        teacher (str): its teacher's name (``''``: the one ``teacher=``).
        channels (tuple | None): the ``[start, stop)`` slice of the student
            feature it distils (several teachers), None: all of it.
    """

    def __init__(self,
                 name: str,
                 stride: Optional[int],
                 source: str,
                 align: BaseAlignment,
                 loss: nn.Module,
                 student_tap: FeatureTap,
                 teacher_tap: Optional[FeatureTap],
                 info: Dict,
                 teacher: str = '',
                 channels: Optional[Tuple[int, int]] = None):
        self.name, self.stride, self.source = name, stride, source
        self.align, self.loss = align, loss
        self.student_tap, self.teacher_tap = student_tap, teacher_tap
        self.info = info
        self.teacher, self.channels = teacher, channels

    def student_part(self, f_s):
        """The term's slice of a student feature (channels: dim 1)."""
        if self.channels is None:
            return f_s
        return f_s[:, self.channels[0]:self.channels[1]]

    @property
    def is_map(self) -> bool:
        return self.stride is not None

    @property
    def online(self) -> bool:
        return self.source == 'teacher'

    def identity(self) -> Dict:
        """What a basis record or a cache column of this term must match."""
        return dict(teacher_tap=self.info['teacher_tap'], d_t=self.info['d_t'])


def term_name(cfg: dict) -> str:
    """``pooled`` or ``dense_s<stride>`` unless the config names it."""
    stride = cfg.get('stride')
    return cfg.get('name') or ('pooled'
                               if stride is None else f'dense_s{int(stride)}')


def build_loss(cfg: dict,
               default_weight: float,
               scale: float = 1.0) -> nn.Module:
    """The term's criterion: ``loss=dict(...)`` or an MSE of ``weight``,
    its weight times ``scale`` (its teacher's normalised weight)."""
    if 'loss' in cfg and 'weight' in cfg:
        raise ValueError(f'{term_name(cfg)}: give weight= or loss=, not both')
    if cfg.get('loss') is not None:
        loss = MODELS.build(cfg['loss'])
    else:
        loss = KDEPLoss(
            mode='mse', loss_weight=cfg.get('weight', default_weight))
    if scale != 1:
        loss.loss_weight = loss.loss_weight * scale
    return loss


def build_align(cfg: dict, name: str, stride: Optional[int],
                source: str) -> BaseAlignment:
    """The term's alignment (SVD + PTS unless a pooled online term names
    another, e.g. the parametric or logit-KD baselines)."""
    spec = dict(cfg.get('align') or {})
    kind = spec.pop('type', 'SVDPTSAlignment')
    if kind != 'SVDPTSAlignment' and (stride is not None
                                      or source != 'teacher'):
        raise ValueError(f'{name}: map terms and cached terms use '
                         f'SVDPTSAlignment (the cache stores its '
                         f'projection), not {kind}')
    if kind == 'SVDPTSAlignment' and stride is not None:
        spec.setdefault('label', name)
    return MODELS.build(dict(spec, type=kind))


def check_keys(cfg: dict) -> None:
    unknown = sorted(set(cfg) - TERM_KEYS)
    if unknown:
        raise ValueError(f'{term_name(cfg)}: unknown keys {unknown} (a term '
                         f'takes {sorted(TERM_KEYS)})')
    if cfg.get('source', 'teacher') not in SOURCES:
        raise ValueError(f"{term_name(cfg)}: source must be one of {SOURCES}, "
                         f"got {cfg['source']!r}")


def build_cached_align(align: BaseAlignment, name: str, d_s: int,
                       column: Dict) -> None:
    """A cached term's alignment: k = min(student width, stored
    directions), the rank from the cache, no basis state (the projection
    was done when the cache was built)."""
    r = int(column['dim'])
    if d_s > r:
        warnings.warn(
            f'{name}: the student feature has {d_s} channels but the '
            f'cache holds {r} directions: student channels {r}..'
            f'{d_s - 1} get no target (build the cache with --dim >= '
            'the student width to distil them all)')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # said above, in cache terms
        align.build(d_s, r, persistent=False)
    align.set_rank(
        int(column['rank']), column.get('spectrum'), column.get('rows', 0))


def term_cfgs(terms, cache, align, loss,
              teachers: Sequence[str] = ('', )) -> List[dict]:
    """The term configs, each with its ``source`` and ``teacher`` (one
    per teacher of ``teachers`` for a term that names none)."""
    if terms is None:
        terms = [
            dict(
                align=align or dict(type='SVDPTSAlignment'),
                loss=loss
                or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
        ]
    elif align is not None or loss is not None:
        raise ValueError('with terms=, give align / loss inside each '
                         'term, not next to terms')
    terms = [dict(t) for t in terms]
    if not terms:
        raise ValueError('KDEP needs at least one term')
    for t in terms:
        check_keys(t)
        t.setdefault('source', 'cache' if cache else 'teacher')
        if t['source'] == 'cache' and not cache:
            raise ValueError(f'{term_name(t)} reads the cache but the '
                             'model has no cache= folder')
    terms = per_teacher(terms, list(teachers))
    names = [term_name(t) for t in terms]
    if len(set(names)) != len(names):
        raise ValueError(f'two terms share a name: {names}')
    for who in teachers:
        if sum(t.get('stride') is None and t['teacher'] == who
               for t in terms) > 1:
            per = f' per teacher ({who})' if who else ''
            raise ValueError(f'at most one pooled term{per}')
    return terms


def per_teacher(terms: List[dict], teachers: List[str]) -> List[dict]:
    """Each term bound to its teacher: the one ``teacher=`` (``''``), or,
    with several, the one it names or one copy per teacher, named
    ``<teacher>/<name>`` and standardised (SVD + PTS only)."""
    if teachers == ['']:
        for t in terms:
            if t.get('teacher'):
                raise ValueError(f"{term_name(t)}: teacher={t['teacher']!r} "
                                 'but the model has one teacher= (name '
                                 'teachers in teachers=[...])')
            t['teacher'] = ''
        return terms
    out = []
    for t in terms:
        who = t.get('teacher')
        if who is not None and who not in teachers:
            raise ValueError(f'{term_name(t)}: teacher={who!r} is not one '
                             f'of the teachers {teachers}')
        for name in ([who] if who is not None else teachers):
            align = dict(t.get('align') or {})
            if align.get('type', 'SVDPTSAlignment') != 'SVDPTSAlignment':
                raise ValueError(f"{term_name(t)}: several teachers use "
                                 f"SVDPTSAlignment, not {align['type']}")
            align.setdefault('standardize', True)
            align.setdefault('label', f'{name}/{term_name(t)}')
            out.append(
                dict(
                    t,
                    teacher=name,
                    align=align,
                    name=f'{name}/{term_name(t)}'))
    return out


def build_term(model, cfg: dict, d_s: int, d_t: Dict[str, int]) -> Term:
    """A :class:`Term` of ``model`` (a :class:`KDEP` being built) from its
    config: its taps (a map term's measured at its stride), its teacher's
    slice of the student feature, its alignment (built for the widths, or
    from the cache column) and its loss."""
    name, source = term_name(cfg), cfg['source']
    stride = cfg.get('stride')
    teacher: Teacher = model.teacher_of(cfg['teacher'])
    student_tap, teacher_tap = model.student_tap, teacher.tap
    who = 'teacher' + (f' {teacher.name}' if teacher.name else '')
    if stride is not None:
        stride = int(stride)
        student_tap, s = map_tap(model.backbone, cfg.get('student_tap'),
                                 stride, model.probe_size, True, 'student')
        d_s = s['channels']
        if source == 'teacher':
            teacher_tap, t = map_tap(teacher.net, cfg.get('teacher_tap'),
                                     stride, model.probe_size, False, who,
                                     teacher.scale)
            t_width, t_stride = t['channels'], t['stride']
            t_tap = teacher.point(teacher_tap)
            log_resampled(name, t_stride, stride, t_tap)
    if source == 'cache':
        teacher_tap = None
        column = model._cache.columns[name]
        t_width, t_tap = column['d_t'], column['teacher_tap']
        t_stride = column.get('teacher_stride')
    elif stride is None:
        t_width, t_tap = d_t[teacher.name], teacher.point(teacher_tap)
    channels = None
    if teacher.name:  # several teachers: its slice of the student
        shares = [t.share for t in model.teachers_list]
        channels = channel_slices(shares,
                                  d_s)[model.teachers_list.index(teacher)]
        d_s = channels[1] - channels[0]
    align = build_align(cfg, name, stride, source)
    if source == 'cache':
        build_cached_align(align, name, d_s, column)
    else:
        align.build(d_s, t_width)
    loss = build_loss(cfg, 3.0 if stride is None else 1.0, teacher.weight)
    info = dict(name=name, teacher_tap=t_tap, d_t=t_width, d_s=d_s)
    if stride is not None:
        info = dict(
            name=name,
            stride=stride,
            teacher_stride=t_stride,
            student_tap=student_tap.describe(),
            teacher_tap=t_tap,
            d_s=d_s,
            d_t=t_width,
            k=align.k,
            loss_weight=loss.loss_weight,
            locations_per_image=cfg.get('locations_per_image'))
    if teacher.name:
        info.update(teacher=teacher.name, channels=list(channels))
    return Term(name, stride, source, align, loss, student_tap, teacher_tap,
                info, teacher.name, channels)
