"""Feature alignment: how a teacher feature becomes the student's target.

* :class:`SVDPTSAlignment` (KDEP): non-parametric. The teacher feature is
  centred, projected on the top-k PCA directions of the teacher features
  (k = the student's width) and power-temperature scaled:
  ``PTS((f_t - mean) @ V) = sign(z) * |z / T| ** (1 / n)``. The student's
  pooled pre-activation feature regresses on it directly, with no adaptor.
* the paper's baselines (a learned adaptor, logit KD) are in
  :mod:`.baseline_alignments`.

Every alignment is built in two steps: the config gives its
hyper-parameters, and the distiller calls :meth:`BaseAlignment.build` with
the measured feature widths, so width problems fail when the model is built.
``forward(f_s, f_t)`` returns ``(prediction, target)`` in float32.

:class:`SVDPTSAlignment` is split in the two steps every caller uses:
:meth:`~SVDPTSAlignment.project` (centring + basis: linear, what a target
cache stores) and :meth:`~SVDPTSAlignment.scale` (PTS and the rank
policy, applied at training time); :meth:`~SVDPTSAlignment.match` pairs
the student feature with a target.
"""
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..basis.covariance import numerical_rank

RANK_POLICIES = ('mask', 'zero', 'keep')


def power_temperature_scaling(z: torch.Tensor, temperature: float,
                              power: float) -> torch.Tensor:
    """PTS: ``sign(z) * |z / T| ** (1 / n)``."""
    return torch.sign(z) * (z.abs() / temperature).pow(1.0 / power)


class BaseAlignment(nn.Module):
    """Interface of an alignment (see the module docstring)."""

    #: Whether the alignment needs a basis from the teacher's features.
    needs_basis = False

    def build(self, d_s: int, d_t: int) -> None:
        """Create width-dependent parts once the widths are known."""
        self.d_s, self.d_t = d_s, d_t

    def forward(self, f_s: torch.Tensor,
                f_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


@MODELS.register_module()
class SVDPTSAlignment(BaseAlignment):
    """KDEP's non-parametric alignment: PCA basis + power-temperature scaling.

    The state (``mean``, ``basis``, ``spectrum``, ``rank``, ``num_images``,
    ``initialized``) is made of buffers: it is saved in checkpoints (so a
    resumed run never recomputes it) and filled by
    :class:`kdep_mm.engine.hooks.KDEPBasisHook` or from a basis file.

    Args:
        temperature (float): T of PTS. Defaults to 0.1.
        power (float): n of PTS. Defaults to 3 (a signed cube root).
        use_pts (bool): False gives the "SVD only" ablation.
        rank_policy (str): What to do with target directions beyond the
            numerical rank of the teacher features (they carry only
            rounding noise, which PTS amplifies into meaningless targets):

            - 'mask' (default): distil only the first ``rank`` directions;
              the remaining student channels get no direct target.
            - 'zero': keep all k directions, with zero targets beyond rank.
            - 'keep': the reference code's behaviour (noise targets).
        rank_rtol (float): A direction counts towards the rank if its
            singular value exceeds ``rank_rtol`` times the largest.
        label (str): Names this target in warnings (a dense stage's name);
            empty for the pooled target.
        standardize (bool): Divide the projected coordinates by their
            :attr:`spread` before PTS (a teacher among several: no teacher
            dominates by its units; see :mod:`kdep_mm.models.teachers`).
    """

    needs_basis = True

    def __init__(self,
                 temperature: float = 0.1,
                 power: float = 3.0,
                 use_pts: bool = True,
                 rank_policy: str = 'mask',
                 rank_rtol: float = 1e-4,
                 label: str = '',
                 standardize: bool = False):
        super().__init__()
        if rank_policy not in RANK_POLICIES:
            raise ValueError(f'rank_policy must be one of {RANK_POLICIES}, '
                             f'got {rank_policy!r}')
        if temperature <= 0 or power <= 0:
            raise ValueError('PTS needs temperature > 0 and power > 0')
        self.temperature = temperature
        self.power = power
        self.use_pts = use_pts
        self.rank_policy = rank_policy
        self.rank_rtol = rank_rtol
        self.standardize = standardize
        self.label = f'{label}: ' if label else ''

    def build(self, d_s: int, d_t: int, persistent: bool = True) -> None:
        """Create the basis state for widths ``d_s`` / ``d_t``.

        ``persistent=False``: the state is not saved in checkpoints (a
        target read from a cache: its projection was done when the cache
        was built, only the rank is needed, set from the cache)."""
        super().build(d_s, d_t)
        # A PCA basis of the teacher has at most d_t directions. A wider
        # student distils its first d_t channels (the rule of dense stages,
        # where early student stages are often wider than the teacher's).
        k = min(d_s, d_t)
        if d_s > d_t:
            warnings.warn(
                f'{self.label}the student feature has {d_s} channels but '
                f'the teacher feature only {d_t}: a PCA basis of the '
                f'teacher has at most {d_t} directions, so student channels '
                f'{d_t}..{d_s - 1} get no target (only the first {d_t} are '
                'distilled). Use a wider teacher (or tap) to distil them all.')
        state = dict(
            mean=torch.zeros(d_t),
            basis=torch.zeros(d_t, k),
            spectrum=torch.zeros(d_t),
            rank=torch.tensor(0, dtype=torch.long),
            num_images=torch.tensor(0, dtype=torch.long),
            initialized=torch.tensor(False))
        for name, value in state.items():
            self.register_buffer(name, value, persistent=persistent)

    @property
    def k(self) -> int:
        """Number of target directions (the student's width, at most the
        teacher's)."""
        return self.basis.shape[1]

    @property
    def is_initialized(self) -> bool:
        return bool(self.initialized)

    @property
    def num_targets(self) -> int:
        """Target directions that carry signal (all k for 'keep')."""
        if self.rank_policy == 'keep':
            return self.k
        return min(self.k, int(self.rank))

    @property
    def width(self) -> int:
        """Target directions a step reads: the distilled ones under 'mask'
        (a cached target is read only that far), all k otherwise."""
        return self.num_targets if self.rank_policy == 'mask' else self.k

    @torch.no_grad()
    def set_basis(self,
                  mean: torch.Tensor,
                  basis: torch.Tensor,
                  spectrum: torch.Tensor,
                  num_images: int = 0,
                  rank: Optional[int] = None) -> None:
        """Install a basis (from the basis hook or a basis file).

        Args:
            mean (Tensor): (D_t, ) teacher feature mean.
            basis (Tensor): (D_t, >= k) orthonormal directions, sorted by
                decreasing variance; the first k are used.
            spectrum (Tensor): (D_t, ) singular values of the centred
                feature matrix, sorted decreasingly.
            num_images (int): How many images the statistics came from.
            rank (int, optional): Numerical rank; computed from
                ``spectrum`` and ``rank_rtol`` (at most ``num_images`` - 1:
                the rows of the statistics) if not given.
        """
        if mean.shape != self.mean.shape or basis.dim() != 2 or \
                basis.shape[0] != self.d_t or basis.shape[1] < self.k:
            raise ValueError(
                f'basis of shape mean {tuple(mean.shape)}, basis '
                f'{tuple(basis.shape)} does not fit teacher width '
                f'{self.d_t} and k={self.k} (expected mean ({self.d_t},), '
                f'basis ({self.d_t}, >={self.k}))')
        if rank is None:
            rank = numerical_rank(spectrum, self.rank_rtol, num_images or None)
        self.mean.copy_(mean)
        self.basis.copy_(basis[:, :self.k])
        self.spectrum.zero_()
        n = min(len(spectrum), len(self.spectrum))
        self.spectrum[:n].copy_(spectrum[:n])
        self.rank.fill_(int(rank))
        self.num_images.fill_(int(num_images))
        self.initialized.fill_(True)
        if rank < self.k:
            handling = {
                'mask':
                f'only the first {rank} directions are distilled; '
                f'the other {self.k - rank} student channels get no target',
                'zero':
                f'targets beyond direction {rank} are zero',
                'keep':
                'they are kept as targets (rank_policy=keep): they '
                'are rounding noise amplified by PTS',
            }[self.rank_policy]
            warnings.warn(
                f'{self.label}the teacher features have numerical rank '
                f'{rank} < k = {self.k} (singular values below '
                f'{self.rank_rtol:g} x the largest); {handling}.')

    @torch.no_grad()
    def set_rank(self,
                 rank: int,
                 spectrum: Optional[Sequence[float]] = None,
                 num_images: int = 0) -> None:
        """Install only the rank (a target read from a cache, projected
        when the cache was built) and, for :attr:`spread`, the leading
        singular values and rows of the basis."""
        self.rank.fill_(int(rank))
        if spectrum is not None:
            n = min(len(spectrum), len(self.spectrum))
            self.spectrum[:n].copy_(torch.as_tensor(spectrum[:n]))
            self.num_images.fill_(int(num_images))
        self.initialized.fill_(True)

    @property
    def spread(self) -> torch.Tensor:
        """The RMS standard deviation of the distilled coordinates:
        ``sqrt(sum_{i<r} s_i^2 / (r N))`` over the first r =
        :attr:`num_targets` singular values of the basis (N rows)."""
        r = max(1, self.num_targets)
        s = self.spectrum[:r].double()
        spread = (s.square().sum() / (r * max(1, int(self.num_images))))
        if not spread > 0:
            raise RuntimeError(f'{self.label}standardize=True needs the '
                               'spectrum of the basis; it has none (a cache '
                               'built before kdep_mm recorded it: rebuild it)')
        return spread.sqrt().float()

    def project(self, f_t: torch.Tensor) -> torch.Tensor:
        """``(f_t - mean) @ V`` in float32 even under autocast: the linear
        part of the target (rows (N, D_t) -> (N, k))."""
        with torch.autocast(device_type=f_t.device.type, enabled=False):
            return (f_t.float() - self.mean) @ self.basis

    def scale(self, z: torch.Tensor) -> torch.Tensor:
        """PTS of projected rows ``z`` (N, k) and the rank policy's zeros
        (float32): the non-linear part, applied at training time."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            if self.standardize:
                z = z / self.spread
            if self.use_pts:
                z = power_temperature_scaling(z, self.temperature, self.power)
        if self.rank_policy == 'zero' and self.num_targets < self.k:
            z[:, self.num_targets:] = 0
        return z

    def target(self, f_t: torch.Tensor) -> torch.Tensor:
        """``PTS((f_t - mean) @ V)``: :meth:`scale` of :meth:`project`."""
        return self.scale(self.project(f_t))

    def match(self, f_s: torch.Tensor,
              target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(prediction, target)``: the student's first k channels (a
        wider student distils those) against ``target``, both cut to the
        rank under rank_policy 'mask'."""
        if not self.is_initialized:
            raise RuntimeError(
                'the KDEP basis is not initialised: add '
                "dict(type='KDEPBasisHook') to custom_hooks, or set "
                'basis_file= in the model config')
        pred = f_s[:, :self.k].float()
        target = target[:, :self.k]
        if self.rank_policy == 'mask':
            r = self.num_targets
            return pred[:, :r], target[:, :r]
        return pred, target

    def forward(self, f_s: torch.Tensor,
                f_t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.match(f_s, self.target(f_t))
