"""Dense KDEP: non-parametric targets on feature *maps*, for the detection
and segmentation users that pre-train backbones.

KDEP distils one pooled vector per image; detection and segmentation heads
read maps (an FPN reads C2-C5). Dense KDEP extends the paper's target to
every location of a stage without adding anything that learns: the
teacher's pre-activation map at a stride is centred and projected, at each
location, on the top-k PCA directions of its *location vectors* (a fixed
1x1 projection ``(F_t - mu) @ V``), power-temperature scaled, and the
student's pre-activation map at the same stride regresses on it (MSE over
locations and channels). Each stage is an :class:`SVDPTSAlignment` on rows
of location vectors, so the rank policy, PTS, the basis state in
checkpoints and the basis-file checks are the pooled target's, stage by
stage. The student stays the plain backbone: no adaptor is ever trained.

``loss = w_pool * pooled + sum_l w_l * dense_l``: ``pooled=True`` keeps the
paper's term (its weight is ``loss.loss_weight``), ``pooled=False`` gives
dense-only. :class:`KDEP` itself and every existing config are unchanged.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS

from ..basis.io import load_basis_into
from .alignment import BaseAlignment, SVDPTSAlignment
from .dense_taps import (map_rows, map_tap_candidates, measure_strides,
                         pick_by_stride, resample_map)
from .kdep import KDEP
from .losses import KDEPLoss
from .taps import FeatureTap


def _map_tap(network: nn.Module, cfg: Optional[dict], stride: int, size: int,
             exact: bool, who: str) -> Tuple[FeatureTap, Dict]:
    """The map tap of ``network`` at ``stride`` (built-in unless ``cfg``
    names one), attached, with its measured channels / stride / grid."""
    backbone = getattr(network, 'backbone', None)
    prefix = 'backbone.' if isinstance(backbone, nn.Module) else ''
    base = backbone if prefix else network
    if cfg is not None:
        cfgs = [dict(dict(pool='map'), **cfg)]
        prefix = ''
    else:
        cfgs = map_tap_candidates(base)
        if cfgs is None:
            raise ValueError(
                f'no built-in feature maps for {type(base).__name__} '
                f'({who}); name one per stage, e.g. dense=[dict(stride='
                f"{stride}, {who}_tap=dict(module='stages.2', "
                "hook='output'))]")
    taps = [
        FeatureTap(**dict(c, module=prefix + c['module'])).attach(network)
        for c in cfgs
    ]
    found = measure_strides(network, taps, size)
    idx = 0 if cfg is not None else pick_by_stride(found, stride, exact)
    for i, tap in enumerate(taps):
        if i != idx:
            tap.remove()
    if idx is None or (exact and found[idx]['stride'] != stride):
        have = sorted({f['stride'] for f in found})
        raise ValueError(
            f'the {who} has no feature map at stride {stride} (at '
            f'{size} px it has strides {have}); choose one of them')
    return taps[idx], found[idx]


@MODELS.register_module()
class DenseKDEP(KDEP):
    """KDEP with non-parametric dense targets at one or more strides.

    Args:
        dense (Sequence[dict]): One dict per stage:

            - ``stride`` (int): the student map's stride (4, 8, 16, 32 for
              C2-C5). The student must have a map there; the teacher's map
              at the same stride is used, or, if it has none (a ViT's one
              grid), its nearest, resampled (:func:`resample_map`).
            - ``loss_weight`` (float): w_l. Defaults to 1.0.
            - ``student_tap`` / ``teacher_tap`` (dict, optional): a
              :class:`FeatureTap` with ``pool='map'`` instead of the
              built-in point.
            - ``align`` (dict, optional): :class:`SVDPTSAlignment`
              arguments (defaults: T = 0.1, n = 3, rank_policy='mask').
            - ``locations_per_image`` (int, optional): the basis pass uses
              this many random locations per image (seeded) instead of all.
        pooled (bool): Keep the paper's pooled target (weight:
            ``loss.loss_weight``). False: dense targets only.
        **kwargs: :class:`KDEP`'s arguments.
    """

    def __init__(self,
                 dense: Sequence[dict],
                 pooled: bool = True,
                 basis_file: Optional[str] = None,
                 **kwargs):
        super().__init__(**kwargs)
        if not dense:
            raise ValueError('DenseKDEP needs at least one dense stage; use '
                             'KDEP for the pooled target alone')
        self.pooled = pooled
        size = kwargs.get('probe_size', 224)
        self.dense_names: List[str] = []
        self.dense_info: List[Dict] = []
        self._student_maps: List[FeatureTap] = []
        self._teacher_maps: List[FeatureTap] = []
        self.dense_align = nn.ModuleList()
        self.dense_loss = nn.ModuleList()
        for cfg in dense:
            self._add_stage(dict(cfg), size)
        self._basis_gen = torch.Generator().manual_seed(0)
        if basis_file is not None:
            load_basis_into(self, basis_file)

    def _add_stage(self, cfg: dict, size: int) -> None:
        stride = int(cfg.pop('stride'))
        name = f'dense_s{stride}'
        if name in self.dense_names:
            raise ValueError(f'two dense stages at stride {stride}')
        s_tap, s = _map_tap(self.backbone, cfg.pop('student_tap', None),
                            stride, size, True, 'student')
        t_tap, t = _map_tap(self.teacher, cfg.pop('teacher_tap', None), stride,
                            size, False, 'teacher')
        if t['stride'] != stride:
            MMLogger.get_current_instance().info(
                f'{name}: the teacher map at stride {t["stride"]} '
                f'({t_tap.describe()}) is resampled to the student grid')
        align = SVDPTSAlignment(**dict(cfg.pop('align', {}), label=name))
        align.build(s['channels'], t['channels'])
        self.dense_names.append(name)
        self._student_maps.append(s_tap)
        self._teacher_maps.append(t_tap)
        self.dense_align.append(align)
        self.dense_loss.append(
            KDEPLoss(mode='mse', loss_weight=cfg.pop('loss_weight', 1.0)))
        self.dense_info.append(
            dict(
                name=name,
                stride=stride,
                teacher_stride=t['stride'],
                student_tap=s_tap.describe(),
                teacher_tap=t_tap.describe(),
                d_s=s['channels'],
                d_t=t['channels'],
                k=align.k,
                loss_weight=self.dense_loss[-1].loss_weight,
                locations_per_image=cfg.pop('locations_per_image', None)))
        if cfg:
            raise ValueError(f'{name}: unknown keys {sorted(cfg)}')

    # ------------------------------------------------------------- the basis
    def basis_slots(self) -> Dict[str, BaseAlignment]:
        slots = super().basis_slots() if self.pooled else {}
        slots.update(zip(self.dense_names, self.dense_align))
        return slots

    def slot_identity(self, name: str) -> Dict:
        if name == 'pooled':
            return super().slot_identity(name)
        info = self.dense_info[self.dense_names.index(name)]
        return dict(teacher_tap=info['teacher_tap'], d_t=info['d_t'])

    @torch.no_grad()
    def basis_features(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The pooled rows and, per stage, the teacher's location vectors
        on its own grid (all, or ``locations_per_image`` random ones)."""
        pooled, maps = self._teacher_outputs(inputs)
        out = {'pooled': pooled} if self.pooled else {}
        for info, m in zip(self.dense_info, maps):
            rows = m.flatten(2).transpose(1, 2)  # (B, HW, C)
            n = info['locations_per_image']
            if n is not None and n < rows.shape[1]:
                idx = torch.stack([
                    torch.randperm(rows.shape[1],
                                   generator=self._basis_gen)[:n]
                    for _ in range(rows.shape[0])
                ]).to(rows.device)
                rows = rows.gather(
                    1, idx[..., None].expand(-1, -1, rows.shape[2]))
            out[info['name']] = rows.reshape(-1, rows.shape[2])
        return out

    def kdep_meta(self) -> Dict:
        return dict(
            super().kdep_meta(),
            pooled=self.pooled,
            dense=[dict(i) for i in self.dense_info])

    # --------------------------------------------------------------- forward
    @torch.no_grad()
    def _teacher_outputs(
            self,
            inputs: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        for tap in self._teacher_maps:
            tap.reset()
        pooled = self.extract_teacher_feat(inputs)
        return pooled, [tap.pop() for tap in self._teacher_maps]

    def _student_outputs(
            self,
            inputs: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        for tap in self._student_maps:
            tap.reset()
        pooled = self.extract_feat(inputs)
        return pooled, [tap.pop() for tap in self._student_maps]

    def _all_pairs(self, inputs: torch.Tensor) -> Dict[str, Tuple]:
        """(prediction, target) rows of every term, by name."""
        t_pool, t_maps = self._teacher_outputs(inputs)
        s_pool, s_maps = self._student_outputs(inputs)
        pairs = {}
        if self.pooled:
            pairs['pooled'] = self.align(s_pool, t_pool)
        for name, align, s, t in zip(self.dense_names, self.dense_align,
                                     s_maps, t_maps):
            t = resample_map(t.float(), s.shape[-2:])
            pairs[name] = align(map_rows(s), map_rows(t))
        return pairs

    def loss(self,
             inputs: torch.Tensor,
             data_samples: Optional[List] = None) -> Dict[str, torch.Tensor]:
        """``loss_pooled`` (if kept) and one ``loss_dense_s<stride>`` per
        stage; mmengine sums them."""
        pairs = self._all_pairs(inputs)
        losses = {}
        if self.pooled:
            losses['loss_pooled'] = self.loss_module(*pairs['pooled'])
        for name, crit in zip(self.dense_names, self.dense_loss):
            losses[f'loss_{name}'] = crit(*pairs[name])
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None) -> List[Dict]:
        """Per image: the pooled ``pred`` / ``target`` (if kept) and, per
        stage, its location rows in ``dense`` (for :class:`KDEPR2Metric`)."""
        pairs = self._all_pairs(inputs)
        b = inputs.shape[0]
        out = [dict(dense={}) for _ in range(b)]
        if self.pooled:
            for o, p, t in zip(out, *pairs['pooled']):
                o.update(pred=p.detach().cpu(), target=t.detach().cpu())
        for name in self.dense_names:
            pred, target = (
                x.detach().cpu().reshape(b, -1, x.shape[1])
                for x in pairs[name])
            for o, p, t in zip(out, pred, target):
                o['dense'][name] = (p, t)
        return out
