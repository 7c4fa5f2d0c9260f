"""A validation that means something for KDEP: target R^2 on held-out images.

The raw distillation loss is a poor progress signal (with PTS the
low-variance components dominate it). This metric reports how much of the
targets' variance the student explains on held-out images, overall and for
the leading components, where the teacher's knowledge is concentrated.
"""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS


def r2_scores(
    pred: torch.Tensor, target: torch.Tensor,
    top_k: Sequence[int] = (8, 32)) -> Dict[str, float]:
    """R^2 of ``pred`` against ``target`` (both (N, k)).

    ``r2`` is ``1 - SSE / SST`` summed over all components (variance
    weighted); ``r2_top{k}`` the same over the first k components;
    ``mse`` the mean squared error.
    """
    pred, target = pred.double(), target.double()
    err = ((pred - target)**2).sum(0)
    var = ((target - target.mean(0))**2).sum(0)
    out = dict(
        r2=float(1 - err.sum() / var.sum().clamp(min=1e-12)),
        mse=float(((pred - target)**2).mean()))
    for k in top_k:
        if k < target.shape[1]:
            out[f'r2_top{k}'] = float(1 - err[:k].sum() /
                                      var[:k].sum().clamp(min=1e-12))
    return out


@METRICS.register_module()
class KDEPR2Metric(BaseMetric):
    """Student R^2 against the KDEP targets, overall and for the top-k.

    Use it as ``val_evaluator = dict(type='KDEPR2Metric')`` with a
    ``val_dataloader`` of held-out images (test-time pipeline).

    Args:
        top_k (Sequence[int]): Leading-component groups to report.
    """

    default_prefix = 'kdep'

    def __init__(self, top_k: Sequence[int] = (8, 32), **kwargs):
        super().__init__(**kwargs)
        self.top_k = tuple(top_k)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((sample['pred'], sample['target']))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        pred = torch.stack([p for p, _ in results])
        target = torch.stack([t for _, t in results])
        return r2_scores(pred, target, self.top_k)
