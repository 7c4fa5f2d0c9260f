"""KDEP from a cache of teacher targets: no teacher in memory, no teacher
forward in the step.

The cache (``tools/build_target_cache.py``) holds, per image, R crops and
each crop's teacher feature centred and projected on the top-r PCA
directions. The training pipeline replays one of the crops
(:class:`~kdep_mm.datasets.ReplayCachedCrop`) and packs its projection;
this model takes the first k values (the directions are nested, so a
student of width k <= r reads a prefix), applies PTS and regresses the
student's pooled pre-activation feature on it, exactly as :class:`KDEP`
does with the teacher online. Several students train from one cache by
config alone.
"""
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS

from ..utils.misc import build_mmpretrain, to_plain
from .alignment import power_temperature_scaling
from .kdep import default_data_preprocessor
from .taps import FeatureTap, build_tap


@MODELS.register_module()
class CachedKDEP(BaseModel):
    """KDEP whose targets come from a target cache.

    Args:
        backbone (dict): The student backbone (any mmpretrain backbone).
        cache (str): The cache folder (its ``manifest.json`` is read here;
            the pipeline's ``ReplayCachedCrop`` reads the targets).
        temperature (float): T of PTS. Defaults to 0.1.
        power (float): n of PTS. Defaults to 3.
        use_pts (bool): False: the projections themselves are the targets.
        loss (dict): Defaults to ``KDEPLoss(mode='mse', loss_weight=3.0)``.
        student_tap (None | str | dict): As :class:`KDEP`'s.
        probe_size (int): Image size of the dry run that measures k.
        data_preprocessor (dict, optional): As :class:`KDEP`'s.
        init_cfg (dict, optional): Initialisation of the student.
    """

    def __init__(self,
                 backbone: dict,
                 cache: str,
                 temperature: float = 0.1,
                 power: float = 3.0,
                 use_pts: bool = True,
                 loss: Optional[dict] = None,
                 student_tap: Union[None, str, dict] = None,
                 probe_size: int = 224,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=MODELS.build(data_preprocessor
                                           or default_data_preprocessor()),
            init_cfg=init_cfg)
        manifest = osp.join(cache, 'manifest.json')
        if not osp.isfile(manifest):
            raise FileNotFoundError(
                f'{manifest} does not exist: build the cache first '
                '(tools/build_target_cache.py), or finish its build')
        with open(manifest) as f:
            self.manifest = json.load(f)
        self.cache = cache
        self.student_cfg = to_plain(backbone)
        self.backbone = build_mmpretrain(backbone)
        self.student_tap: FeatureTap = build_tap(self.backbone, student_tap)
        self.temperature, self.power = temperature, power
        self.use_pts = use_pts
        self.loss_module = MODELS.build(
            loss or dict(type='KDEPLoss', mode='mse', loss_weight=3.0))
        d_s = self._probe_width(probe_size)
        r = int(self.manifest['dim'])
        if d_s > r:
            warnings.warn(
                f'the student feature has {d_s} channels but the cache holds '
                f'{r} directions: student channels {r}..{d_s - 1} get no '
                'target (build the cache with --dim >= the student width to '
                'distil them all)')
        #: Directions distilled: the student's width, at most the cache's
        #: and the teacher's numerical rank (rank_policy 'mask').
        self.num_targets = min(d_s, r, int(self.manifest['rank']))

    @torch.no_grad()
    def _probe_width(self, size: int) -> int:
        was = self.backbone.training
        self.backbone.eval()
        try:
            return self.extract_feat(torch.zeros(1, 3, size, size)).shape[1]
        finally:
            self.backbone.train(was)

    def basis_slots(self) -> Dict:
        """No basis to compute: the cache's projections are the targets."""
        return {}

    def kdep_meta(self) -> Dict:
        """What checkpoints and exported students record."""
        return dict(
            student=self.student_cfg,
            student_tap=self.student_tap.describe(),
            teacher=self.manifest['teacher'],
            align='CachedKDEP',
            cache=dict(
                folder=self.cache,
                basis_sha256=self.manifest['basis_sha256'],
                crops_per_image=self.manifest['crops_per_image']))

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The student's distilled (pooled, pre-activation) feature."""
        self.student_tap.reset()
        self.backbone(inputs)
        return self.student_tap.pop()

    def target(self, z: torch.Tensor) -> torch.Tensor:
        """PTS of the first ``num_targets`` cached projections."""
        z = z[:, :self.num_targets].float()
        if self.use_pts:
            z = power_temperature_scaling(z, self.temperature, self.power)
        return z

    def loss(self, inputs: torch.Tensor,
             data_samples: List) -> Dict[str, torch.Tensor]:
        """The KDEP loss against the cached targets of the batch."""
        if not data_samples or 'kdep_target' not in data_samples[0]:
            raise KeyError(
                "the batch carries no cached targets: the training pipeline "
                "needs ReplayCachedCrop and PackInputs(algorithm_keys="
                "('kdep_target', ))")
        z = torch.stack([torch.as_tensor(s.kdep_target)
                         for s in data_samples]).to(inputs.device)
        pred = self.extract_feat(inputs)[:, :self.num_targets].float()
        return dict(loss=self.loss_module(pred, self.target(z)))

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'Invalid mode "{mode}" (CachedKDEP has no '
                           'predict: validate with the online KDEP model)')
