"""The KDEP data preprocessor: mmpretrain's ``ClsDataPreprocessor`` (image
normalisation, BGR -> RGB) that also carries a batch's cached targets,
stacked by :func:`kdep_mm.datasets.kdep_collate`, to the device, once per
column and without blocking, and hands them to the model whole (mmengine
passes every key of the preprocessor's output to ``forward``), so no step
splits and re-stacks them per sample."""
from typing import Dict

from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
from mmpretrain.registry import MODELS

from ..datasets.collate import BATCH_KEY


@MODELS.register_module()
class KDEPDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` plus ``batch['kdep_targets']`` (see
    :mod:`kdep_mm.datasets.collate`): each column copied to the device
    (``non_blocking``: asynchronous from the loader's pinned memory) and
    passed on under the same key (``KDEP.forward(..., kdep_targets=)``).
    Identical to ``ClsDataPreprocessor`` for a batch without them."""

    def forward(self, data: Dict, training: bool = False) -> Dict:
        stacked = data.get(BATCH_KEY)
        out = super().forward(data, training)
        if stacked:
            out[BATCH_KEY] = {
                name: value.to(self.device, non_blocking=True)
                for name, value in stacked.items()
            }
        return out
