"""The distillation loss: ``loss_weight * MSE`` (KDEP), or an ablation."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

MODES = ('mse', 'smooth_l1', 'cosine', 'kl')


@MODELS.register_module()
class KDEPLoss(nn.Module):
    """Loss between the student's prediction and the aligned target.

    Args:
        mode (str): 'mse' (KDEP: mean over batch and channels, no
            normalisation), 'smooth_l1', 'cosine' (1 - cosine similarity)
            or 'kl' (logit KD: KL of temperature-softened softmaxes, scaled
            by T^2, batch mean).
        loss_weight (float): w. The paper uses 3.0 with its default teacher
            and 20.0 with a supervised ImageNet-1K ResNet-50 teacher.
        temperature (float): Softmax temperature of the 'kl' mode.
    """

    def __init__(self,
                 mode: str = 'mse',
                 loss_weight: float = 3.0,
                 temperature: float = 4.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.mode = mode
        self.loss_weight = loss_weight
        self.temperature = temperature

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape')
        if self.mode == 'mse':
            loss = F.mse_loss(pred, target)
        elif self.mode == 'smooth_l1':
            loss = F.smooth_l1_loss(pred, target)
        elif self.mode == 'cosine':
            loss = (1 - F.cosine_similarity(pred, target, dim=1)).mean()
        else:
            t = self.temperature
            loss = F.kl_div(
                F.log_softmax(pred / t, dim=1),
                F.log_softmax(target / t, dim=1),
                reduction='batchmean',
                log_target=True) * t * t
        return self.loss_weight * loss
