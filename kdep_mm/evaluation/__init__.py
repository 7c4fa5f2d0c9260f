from .r2_metric import KDEPR2Metric, r2_scores

__all__ = ['KDEPR2Metric', 'r2_scores']
