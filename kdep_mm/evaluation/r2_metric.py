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


def moment_sums(pred: torch.Tensor, target: torch.Tensor) -> Dict:
    """Per-component sums that R^2 needs, in float64: squared errors,
    target sums and squared target sums over the rows of (N, k) tensors.
    Sums add up over batches, images and ranks."""
    pred, target = pred.double(), target.double()
    return dict(
        err=((pred - target)**2).sum(0),
        sum=target.sum(0),
        sq=(target**2).sum(0),
        n=target.shape[0])


def add_sums(parts: Sequence[Dict]) -> Dict:
    """The :func:`moment_sums` of the union of ``parts``."""
    return {key: sum(p[key] for p in parts) for key in parts[0]}


def r2_from_sums(sums: Dict, top_k: Sequence[int] = (8, 32)) -> Dict:
    """``r2`` (``1 - SSE / SST`` summed over all components: variance
    weighted), ``r2_top{k}`` (the same over the first k components) and
    ``mse`` from :func:`moment_sums`."""
    err, n = sums['err'], sums['n']
    var = sums['sq'] - sums['sum']**2 / n
    out = dict(
        r2=float(1 - err.sum() / var.sum().clamp(min=1e-12)),
        mse=float(err.sum() / (n * err.numel())))
    for k in top_k:
        if k < err.numel():
            out[f'r2_top{k}'] = float(1 - err[:k].sum() /
                                      var[:k].sum().clamp(min=1e-12))
    return out


def r2_scores(
    pred: torch.Tensor, target: torch.Tensor,
    top_k: Sequence[int] = (8, 32)) -> Dict[str, float]:
    """R^2 of ``pred`` against ``target`` (both (N, k)); see
    :func:`r2_from_sums`."""
    return r2_from_sums(moment_sums(pred, target), top_k)


@METRICS.register_module()
class KDEPR2Metric(BaseMetric):
    """Student R^2 against the KDEP targets, overall and for the top-k.

    Use it as ``val_evaluator = dict(type='KDEPR2Metric')`` with a
    ``val_dataloader`` of held-out images (test-time pipeline). For a
    :class:`~kdep_mm.models.DenseKDEP` the same scores are given per dense
    stage over all its locations (``dense_s16_r2`` ...).

    Args:
        top_k (Sequence[int]): Leading-component groups to report.
    """

    default_prefix = 'kdep'

    def __init__(self, top_k: Sequence[int] = (8, 32), **kwargs):
        super().__init__(**kwargs)
        self.top_k = tuple(top_k)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            result = {
                name: moment_sums(p, t)
                for name, (p, t) in sample.get('dense', {}).items()
            }
            if 'pred' in sample:
                result[''] = moment_sums(sample['pred'][None],
                                         sample['target'][None])
            self.results.append(result)

    def compute_metrics(self, results: List) -> Dict[str, float]:
        out = {}
        for name in results[0]:
            scores = r2_from_sums(
                add_sums([r[name] for r in results]), self.top_k)
            prefix = f'{name}_' if name else ''
            out.update({prefix + k: v for k, v in scores.items()})
        return out
