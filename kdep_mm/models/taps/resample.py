"""A teacher map on the student's grid.

Both grids cover the whole image: cell ``i`` of an ``n``-cell axis spans
``[i / n, (i + 1) / n)`` of its extent, so cell centres sit at ``(i + 0.5)
/ n`` on both grids. Per axis:

* **finer teacher** (``n_t >= n_s``): true area weighting, each student
  cell the mean of the teacher cells it overlaps *weighted by the
  overlap* (for a 7 -> 4 axis, student cell 0 spans teacher cells 0 and
  0.75 of cell 1: weights 1 / 1.75 and 0.75 / 1.75);
* **coarser teacher**: linear interpolation between teacher cell centres
  (``align_corners=False``, clamped at the border), as
  ``F.interpolate(mode='bilinear')``.

Both are linear, so resampling a projected map equals projecting the
resampled map (the cache stores projections on the teacher grid); it is
done before PTS, which is not linear. Integer ratios and upsampling on
both axes go through ``F.interpolate`` (the same numbers as before this
module had the general case).
"""
import torch
import torch.nn.functional as F


def area_weights(n_t: int, n_s: int) -> torch.Tensor:
    """(n_s, n_t): row ``i`` weights teacher cells by their overlap with
    student cell ``i`` (rows sum to 1); needs ``n_t >= n_s``."""
    t = torch.arange(n_t, dtype=torch.float64)
    lo = torch.arange(n_s, dtype=torch.float64)[:, None] * n_t / n_s
    hi = lo + n_t / n_s
    overlap = (torch.minimum(hi, t + 1) - torch.maximum(lo, t)).clamp_min(0)
    return overlap / overlap.sum(1, keepdim=True)


def linear_weights(n_t: int, n_s: int) -> torch.Tensor:
    """(n_s, n_t): linear interpolation between cell centres
    (``align_corners=False``; a source position below 0 is clamped, as
    PyTorch does)."""
    src = ((torch.arange(n_s, dtype=torch.float64) + 0.5) * n_t / n_s -
           0.5).clamp_min(0)
    i0 = src.floor().long().clamp(max=n_t - 1)
    i1 = (i0 + 1).clamp(max=n_t - 1)
    frac = src - i0
    w = torch.zeros(n_s, n_t, dtype=torch.float64)
    w[torch.arange(n_s), i0] += 1 - frac
    w[torch.arange(n_s), i1] += frac
    return w


def axis_weights(n_t: int, n_s: int) -> torch.Tensor:
    return area_weights(n_t, n_s) if n_t >= n_s else \
        linear_weights(n_t, n_s)


def resample_map(teacher: torch.Tensor, size) -> torch.Tensor:
    """The teacher map (B, C, H_t, W_t) on the student's grid ``size`` =
    (h, w) (see the module docstring)."""
    size = tuple(size)
    (h_t, w_t), (h, w) = teacher.shape[-2:], size
    if (h_t, w_t) == size:
        return teacher
    if h_t % h == 0 and w_t % w == 0:  # integer ratios: exact block means
        return F.interpolate(teacher, size=size, mode='area')
    if h_t <= h and w_t <= w:
        return F.interpolate(
            teacher, size=size, mode='bilinear', align_corners=False)
    rows = axis_weights(h_t, h).to(teacher.device, teacher.dtype)
    cols = axis_weights(w_t, w).to(teacher.device, teacher.dtype)
    return torch.einsum('ih,bchw,jw->bcij', rows, teacher, cols)


def map_rows(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B * H * W, C): one row per location."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
