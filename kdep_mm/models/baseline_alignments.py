"""The paper's baselines for the alignment (:mod:`.alignment`): a learned
adaptor and logit KD. Both learn parameters that are never exported; KDEP's
own target (:class:`~.alignment.SVDPTSAlignment`) learns none.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from .alignment import BaseAlignment


@MODELS.register_module()
class ParametricAlignment(BaseAlignment):
    """Baseline: Linear(D_s, D_t) + BatchNorm1d on the student feature,
    regressed on the raw teacher feature (the paper's "1x1 conv" adaptor)."""

    def build(self, d_s: int, d_t: int) -> None:
        super().build(d_s, d_t)
        self.proj = nn.Linear(d_s, d_t)
        self.bn = nn.BatchNorm1d(d_t)

    def forward(self, f_s: torch.Tensor,
                f_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.bn(self.proj(f_s)).float(), f_t.float()


@MODELS.register_module()
class LogitKDAlignment(BaseAlignment):
    """Baseline: a linear head on the student predicts the teacher's logits.

    Use it with a teacher tap on the classifier's logits (e.g.
    ``tap=dict(module='head.fc', hook='output', pool='none')``), the student
    tap on the backbone's pooled output, and ``KDEPLoss(mode='kl')``.
    """

    def build(self, d_s: int, d_t: int) -> None:
        super().build(d_s, d_t)
        self.head = nn.Linear(d_s, d_t)

    def forward(self, f_s: torch.Tensor,
                f_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.head(f_s).float(), f_t.float()
