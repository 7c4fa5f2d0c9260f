"""Streaming PCA statistics of the teacher features.

Instead of holding the N x D_t feature matrix and running an SVD (the
reference code), the sums ``sum x`` and ``sum x x^T`` are accumulated in
float64 (memory O(D_t^2), independent of N), summed across distributed
ranks, and the covariance is eigen-decomposed. Its eigenvectors are the
right singular vectors of the centred feature matrix, and the singular
values are ``sqrt(eigenvalue * (N - 1))``.
"""
from typing import Dict, Optional

import torch
from mmengine import dist


class StreamingCovariance:
    """Accumulates float64 first and second moments of feature rows.

    Args:
        dim (int): Feature width D_t.
        device (str | torch.device): Where the sums live.
    """

    def __init__(self, dim: int, device='cpu'):
        self.dim = dim
        self.count = torch.zeros((), dtype=torch.float64, device=device)
        self.sum = torch.zeros(dim, dtype=torch.float64, device=device)
        self.sum_outer = torch.zeros(
            dim, dim, dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, feats: torch.Tensor) -> None:
        """Add a batch of features of shape (B, D_t)."""
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'expected features (B, {self.dim}), got '
                             f'{tuple(feats.shape)}')
        x = feats.detach().to(self.sum.device, torch.float64)
        if not torch.isfinite(x).all():
            raise FloatingPointError(
                'the teacher produced non-finite features while computing '
                'the basis')
        self.count += x.shape[0]
        self.sum += x.sum(0)
        self.sum_outer.addmm_(x.T, x)

    def all_reduce(self) -> None:
        """Sum the statistics over all distributed ranks (no-op alone)."""
        if dist.get_world_size() > 1:
            for t in (self.count, self.sum, self.sum_outer):
                dist.all_reduce(t, op='sum')

    def decompose(self) -> Dict[str, torch.Tensor]:
        """Mean, directions and singular values (float32, decreasing).

        Returns:
            dict: ``mean`` (D_t), ``basis`` (D_t, D_t) with the directions
            in its columns, ``spectrum`` (D_t) singular values of the
            centred feature matrix, ``num_images`` (int).
        """
        n = int(self.count)
        if n < 2:
            raise ValueError(f'the basis needs at least 2 images, got {n}')
        mean = self.sum / n
        scatter = self.sum_outer - n * torch.outer(mean, mean)
        scatter = (scatter + scatter.T) / 2
        evals, evecs = torch.linalg.eigh(scatter)  # ascending
        evals, evecs = evals.flip(0), evecs.flip(1)
        # Deterministic signs: the largest-magnitude entry of each
        # direction is positive.
        idx = evecs.abs().argmax(0)
        signs = torch.sign(evecs[idx, torch.arange(evecs.shape[1])])
        signs[signs == 0] = 1
        evecs = evecs * signs
        spectrum = evals.clamp(min=0).sqrt()
        return dict(
            mean=mean.float(),
            basis=evecs.float(),
            spectrum=spectrum.float(),
            num_images=n)


def numerical_rank(spectrum: torch.Tensor,
                   rtol: float,
                   rows: Optional[int] = None) -> int:
    """Number of singular values above ``rtol`` x the largest, at most
    ``rows - 1`` (N centred rows span at most N - 1 directions; the
    one-pass float64 scatter leaves round-off above the threshold on
    near-constant features) and at most D_t."""
    if spectrum.numel() == 0 or float(spectrum.max()) <= 0:
        return 0
    rank = int((spectrum > rtol * spectrum.max()).sum())
    return rank if rows is None else min(rank, max(int(rows) - 1, 0))
