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
         student_tap=None, teacher_tap=None, locations_per_image=None)
"""
import warnings
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS

from .alignment import BaseAlignment
from .losses import KDEPLoss
from .taps import (FeatureTap, map_tap_candidates, measure_strides,
                   pick_by_stride, resolve_backbone, warn_post_activation)

SOURCES = ('teacher', 'cache')
TERM_KEYS = frozenset(('name', 'stride', 'source', 'weight', 'loss', 'align',
                       'student_tap', 'teacher_tap', 'locations_per_image'))


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
    """

    def __init__(self, name: str, stride: Optional[int], source: str,
                 align: BaseAlignment, loss: nn.Module,
                 student_tap: FeatureTap, teacher_tap: Optional[FeatureTap],
                 info: Dict):
        self.name, self.stride, self.source = name, stride, source
        self.align, self.loss = align, loss
        self.student_tap, self.teacher_tap = student_tap, teacher_tap
        self.info = info

    @property
    def is_map(self) -> bool:
        return self.stride is not None

    @property
    def online(self) -> bool:
        return self.source == 'teacher'

    def identity(self) -> Dict:
        """What a basis record or a cache column of this term must match."""
        return dict(teacher_tap=self.info['teacher_tap'], d_t=self.info['d_t'])


def map_tap(network: nn.Module,
            cfg: Optional[dict],
            stride: int,
            size: int,
            exact: bool,
            who: str,
            scale: float = 1.0) -> Tuple[FeatureTap, Dict]:
    """The map tap of ``network`` at ``stride`` (built-in unless ``cfg``
    names one), attached, with its measured channels / stride / grid.

    ``scale``: the network sees images ``scale`` times the student's size
    (a teacher at its own resolution); strides are then counted in student
    pixels (a ViT-B/14 at 2x has stride 7)."""
    if cfg is not None:
        cfgs = [dict(dict(pool='map'), **cfg)]
    else:
        cfgs = map_tap_candidates(network)
        if cfgs is None:
            raise ValueError(
                f'no built-in feature maps for '
                f'{type(resolve_backbone(network)[0]).__name__} ({who}); '
                f'name one per stage, e.g. dense=[dict(stride={stride}, '
                f"{who}_tap=dict(module='stages.2', hook='output'))]")
    taps = [FeatureTap(**c).attach(network) for c in cfgs]
    found = measure_strides(network, taps, scaled(size, scale))
    for f in found:
        f['stride'] = size // f['grid'][-1]
    idx = 0 if cfg is not None else pick_by_stride(found, stride, exact)
    for i, tap in enumerate(taps):
        if i != idx:
            tap.remove()
    if idx is None or (exact and found[idx]['stride'] != stride):
        have = sorted({f['stride'] for f in found})
        raise ValueError(
            f'the {who} has no feature map at stride {stride} (at '
            f'{size} px it has strides {have}); choose one of them')
    warn_post_activation(found[idx], who, taps[idx])
    found[idx].pop('post_activation')
    return taps[idx], found[idx]


def scaled(size: int, scale: float) -> int:
    """The side a network at ``scale`` sees for a ``size`` px image."""
    return int(round(size * scale))


def term_name(cfg: dict) -> str:
    """``pooled`` or ``dense_s<stride>`` unless the config names it."""
    stride = cfg.get('stride')
    return cfg.get('name') or ('pooled'
                               if stride is None else f'dense_s{int(stride)}')


def build_loss(cfg: dict, default_weight: float) -> nn.Module:
    """The term's criterion: ``loss=dict(...)`` or an MSE of ``weight``."""
    if 'loss' in cfg and 'weight' in cfg:
        raise ValueError(f'{term_name(cfg)}: give weight= or loss=, not both')
    if cfg.get('loss') is not None:
        return MODELS.build(cfg['loss'])
    return KDEPLoss(mode='mse', loss_weight=cfg.get('weight', default_weight))


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


def log_resampled(name: str, teacher_stride: int, stride: int,
                  tap: str) -> None:
    if teacher_stride != stride:
        MMLogger.get_current_instance().info(
            f'{name}: the teacher map at stride {teacher_stride} ({tap}) '
            'is resampled to the student grid')


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
    align.set_rank(int(column['rank']))


def term_cfgs(terms, cache, align, loss) -> List[dict]:
    """The term configs, each with its ``source``."""
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
    names = [term_name(t) for t in terms]
    if len(set(names)) != len(names):
        raise ValueError(f'two terms share a name: {names}')
    if sum(t.get('stride') is None for t in terms) > 1:
        raise ValueError('at most one pooled term')
    return terms
