"""Target R^2: ``r2_scores`` against hand computations, and KDEPR2Metric
over batches equal to ``r2_scores`` of all of them at once."""
import pytest
import torch

from kdep_mm.evaluation import KDEPR2Metric, r2_scores


def test_perfect_prediction_is_one():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(10, 40, generator=g)
    out = r2_scores(target.clone(), target)
    assert out['r2'] == pytest.approx(1.0, abs=1e-12)
    assert out['r2_top8'] == pytest.approx(1.0, abs=1e-12)
    assert out['r2_top32'] == pytest.approx(1.0, abs=1e-12)
    assert out['mse'] == 0.0


def test_mean_prediction_is_zero():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(10, 40, generator=g) * torch.linspace(3, 0.1, 40)
    pred = target.mean(0, keepdim=True).expand_as(target)
    out = r2_scores(pred, target)
    for key in ('r2', 'r2_top8', 'r2_top32'):
        assert out[key] == pytest.approx(0.0, abs=1e-6), key
    # the mse of the mean prediction is the (biased) variance
    assert out['mse'] == pytest.approx(
        target.double().var(0, unbiased=False).mean().item(), rel=1e-6)


def test_known_case():
    """Two components: SST = 5 and 4, SSE = 1 and 1, so R^2 = 1 - 2 / 9
    overall (variance weighted) and 1 - 1 / 5 on the first component."""
    target = torch.tensor([[0., 1.], [1., 1.], [2., 3.], [3., 3.]])
    pred = torch.tensor([[0., 1.], [1., 2.], [2., 3.], [4., 3.]])
    out = r2_scores(pred, target, top_k=(1, 2, 8))
    assert out['r2'] == pytest.approx(7 / 9)
    assert out['r2_top1'] == pytest.approx(0.8)
    assert out['mse'] == pytest.approx(2 / 8)
    # groups as wide as the targets (or wider) are not reported
    assert set(out) == {'r2', 'mse', 'r2_top1'}


def test_metric_over_batches_equals_r2_scores_of_all():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(13, 40, generator=g) * torch.linspace(3, 0.1, 40)
    pred = target + 0.5 * torch.randn(13, 40, generator=g)
    metric = KDEPR2Metric(top_k=(8, 32))
    for idx in torch.arange(13).split(5):  # batches of 5, 5 and 3
        samples = [dict(pred=pred[i], target=target[i]) for i in idx]
        metric.process(None, samples)
    expected = r2_scores(pred, target, (8, 32))
    assert set(expected) == {'r2', 'mse', 'r2_top8', 'r2_top32'}
    assert metric.compute_metrics(metric.results) == pytest.approx(expected)
    assert 0 < expected['r2'] < 1
    # through mmengine's evaluation: the same numbers, prefixed
    out = metric.evaluate(13)
    assert out == pytest.approx({f'kdep/{k}': v for k, v in expected.items()})
    assert metric.results == []  # cleared for the next evaluation
