"""The teachers of a KDEP model: one (``teacher=``) or several
(``teachers=[...]``), each frozen, built once, with its own taps, basis,
input scale and share of the student.

Several teachers need no head (see docs/multi_teacher.md). The rule:

* **channels**: every student feature a term reads (the pooled feature,
  each stage's map) is cut into contiguous slices, one per teacher in the
  order of ``teachers``: teacher j gets the fraction ``channels`` of it
  (default: its normalised ``weight``), counted by largest remainder so
  the slices fill the feature when the fractions sum to 1. Teacher j's
  top-k_j PCA directions (k_j = its slice, capped at its width and, under
  ``rank_policy='mask'``, at its numerical rank) are the targets of its
  slice: every student channel learns from one teacher.
* **balance**: teacher j's projected coordinates are divided by their
  spread (the RMS standard deviation of its distilled directions, from
  its basis) before PTS, so no teacher dominates by its units; the loss
  weight of each of its terms is multiplied by its normalised ``weight``.
  With the default shares the loss is the single-teacher loss of the
  concatenated standardised targets.

A model with one ``teacher=`` is the paper's: its terms keep their names
(``pooled``, ``dense_s8``) and nothing is standardised. With
``teachers=``, term names are ``<teacher>/<term>`` (loss keys, basis
slots, cache columns).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from .teacher import TEACHER_KEYS, build_teacher

#: What a ``teachers=`` entry adds to a ``teacher=`` dict.
ENTRY_KEYS = ('name', 'weight', 'channels', 'scale')
NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_-]*$')


class Teacher:
    """One teacher of a model (its network is built by :meth:`build`).

    Attributes:
        name (str): ``''`` for the single ``teacher=``; else its name.
        cfg (dict | None): ``model``, ``checkpoint``, ``prefix``,
            ``sha256`` (None: every term of it reads a cache).
        weight (float): Its normalised loss weight (1 for one teacher).
        share (float): The fraction of each student feature it distils.
        scale (float): The factor its input images are resized by.
        net (nn.Module | None): The frozen network, once built.
        info (dict | None): :func:`build_teacher`'s description.
        tap: Its pooled :class:`FeatureTap` (set by the model).
    """

    def __init__(self, name: str, cfg: Optional[dict], weight: float,
                 share: float, scale: float):
        self.name, self.cfg = name, cfg
        self.weight, self.share, self.scale = weight, share, scale
        self.net: Optional[nn.Module] = None
        self.info: Optional[Dict] = None
        self.tap = None

    def build(self) -> None:
        if self.cfg is None or self.cfg.get('model') is None:
            who = f' {self.name}' if self.name else ''
            raise ValueError(
                f'a term reads the teacher{who} online (source=teacher) but '
                f'the model has no teacher{who}=dict(model=..., checkpoint='
                '...); give one, or read every term from a cache')
        self.net, self.info = build_teacher(self.cfg)

    def point(self, tap) -> str:
        """A tap's identity: its description, and the scale when the
        teacher sees resized images."""
        return tap.describe() + ('' if self.scale == 1 else
                                 f':scale={self.scale:g}')

    @torch.no_grad()
    def pooled(self, inputs: torch.Tensor, prepare) -> torch.Tensor:
        """The pooled feature of a forward (its map taps fill too)."""
        self.tap.reset()
        if self.scale != 1:
            inputs = F.interpolate(
                inputs,
                scale_factor=self.scale,
                mode='bilinear',
                align_corners=False)
        inputs = prepare(inputs)
        if isinstance(self.net, BaseModel):  # a whole classifier
            self.net(inputs, mode='tensor')
        else:
            self.net(inputs)
        return self.tap.pop()

    def label(self) -> str:
        return f'{self.name} ({(self.info or {}).get("fingerprint", "?")})'


def _fractions(entries: List[dict]) -> Tuple[List[float], List[float]]:
    """Normalised weights and channel shares of ``teachers=`` entries."""
    weights = [float(e.get('weight', 1.0)) for e in entries]
    if min(weights) <= 0:
        raise ValueError(f'teacher weights must be > 0, got {weights}')
    total = sum(weights)
    weights = [w / total for w in weights]
    given = [e.get('channels') for e in entries]
    for g in given:
        if g is not None and not 0 < float(g) <= 1:
            raise ValueError('teachers[].channels is the fraction of each '
                             f'student feature a teacher distils, in (0, 1]; '
                             f'got {given}')
    fixed = sum(float(g) for g in given if g is not None)
    free = sum(w for w, g in zip(weights, given) if g is None)
    if fixed > 1 + 1e-9 or (free and fixed >= 1):
        raise ValueError(f'teachers[].channels sum to {fixed:g}: the '
                         'teachers would share more than the student has')
    shares = [
        float(g) if g is not None else (1 - fixed) * w / free
        for w, g in zip(weights, given)
    ]
    return weights, shares


def make_teachers(teacher: Optional[dict], teachers: Optional[Sequence[dict]],
                  scale: float) -> List[Teacher]:
    """The model's teachers from ``teacher=`` or ``teachers=`` (one of
    them; neither for a model that reads every term from a cache)."""
    if teachers is None:
        return [Teacher('', teacher, 1.0, 1.0, float(scale))]
    if teacher is not None:
        raise ValueError('give teacher= or teachers=, not both')
    entries = [dict(e) for e in teachers]
    if not entries:
        raise ValueError('teachers= is empty')
    names = [e.get('name', f't{i}') for i, e in enumerate(entries)]
    bad = [n for n in names if not NAME.match(str(n))]
    if bad or len(set(names)) != len(names):
        raise ValueError(f'teacher names must be distinct identifiers '
                         f'(letters, digits, _ and -); got {names}')
    for e in entries:
        unknown = set(e) - set(TEACHER_KEYS) - set(ENTRY_KEYS)
        if unknown:
            raise ValueError(f'teachers[] entries take '
                             f'{TEACHER_KEYS + ENTRY_KEYS}, not '
                             f'{sorted(unknown)}')
    weights, shares = _fractions(entries)
    out = []
    for name, e, w, s in zip(names, entries, weights, shares):
        cfg = {k: e[k] for k in TEACHER_KEYS if k in e}
        out.append(
            Teacher(name, cfg or None, w, s, float(e.get('scale', scale))))
    return out


def channel_slices(shares: Sequence[float],
                   width: int) -> List[Tuple[int, int]]:
    """Contiguous ``[start, stop)`` slices of a ``width``-channel feature,
    teacher j getting ``shares[j] * width`` channels by largest remainder
    (so slices fill the feature when the shares sum to 1)."""
    exact = [s * width for s in shares]
    counts = [int(x) for x in exact]
    total = min(width, int(round(sum(exact))))
    order = sorted(range(len(shares)), key=lambda j: (counts[j] - exact[j], j))
    for j in order[:max(0, total - sum(counts))]:
        counts[j] += 1
    if min(counts) < 1:
        raise ValueError(f'a student feature of {width} channels cannot '
                         f'give every teacher a channel (shares {shares})')
    starts = [sum(counts[:j]) for j in range(len(counts))]
    return [(a, a + c) for a, c in zip(starts, counts)]


def teachers_meta(teachers: List[Teacher], widths: Dict[str, int]) -> Dict:
    """The description of several teachers (checkpoints, exports, basis
    files and caches record it); ``fingerprint`` / ``tap`` join theirs in
    order, as a single teacher's identity fields."""
    listed = [
        dict(
            t.info,
            name=t.name,
            tap=t.point(t.tap),
            width=widths[t.name],
            weight=t.weight,
            channels=t.share,
            scale=t.scale) for t in teachers
    ]
    return dict(
        teachers=listed,
        fingerprint='+'.join(t['fingerprint'] for t in listed),
        tap='; '.join(f"{t['name']}: {t['tap']}" for t in listed),
        model=[t['model'] for t in listed],
        checkpoint=[t['checkpoint'] for t in listed])


def order_of(meta: Dict) -> List[str]:
    """``name (fingerprint)`` of each teacher of a description, in order
    (a single teacher: one entry with an empty name)."""
    listed = meta.get('teachers') or [dict(meta, name='')]
    return [f"{t.get('name', '')} ({t.get('fingerprint')})" for t in listed]
