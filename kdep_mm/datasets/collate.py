"""Cached targets collated in the dataloader's workers, copied once.

A pooled + dense target cache hands every sample its maps (at 224 px and
C3-C5 of a ResNet-50 cache, 175,616 float16 values a crop). Stacked in the
training process and copied from pageable memory, they put a visible share
of the step on its critical path on a GPU (benchmarks/README.md).
:func:`kdep_collate` stacks them per column where the batch is made (the
loader's workers), so the loader pins one tensor per column
(``pin_memory=True``) and :class:`KDEPDataPreprocessor` copies it to the
device without blocking, then gives each sample its row (a view).

Use both (the cached configs do)::

    train_dataloader = dict(collate_fn=dict(type='kdep_collate'), ...)
    model = dict(data_preprocessor=dict(type='KDEPDataPreprocessor', ...))

Without them a cached run still works: each sample carries its targets
and the model stacks them in the step.
"""
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import FUNCTIONS

#: The batch key of the stacked targets (one tensor per column).
BATCH_KEY = 'kdep_targets'


@FUNCTIONS.register_module()
def kdep_collate(data_batch: Sequence, stack_inputs: bool = True) -> Dict:
    """mmengine's ``default_collate`` (images stacked in the workers, as
    the KDEP configs do; ``stack_inputs=False``: ``pseudo_collate``), plus
    the samples' cached targets stacked per column into
    ``batch['kdep_targets']`` (float16 as stored) and removed from the
    samples (sent once)."""
    batch = (default_collate if stack_inputs else pseudo_collate)(data_batch)
    samples = batch.get('data_samples') or []
    if not samples or 'kdep_target' not in samples[0]:
        return batch
    rows = [s.kdep_target for s in samples]
    rows = [r if isinstance(r, dict) else dict(pooled=r) for r in rows]
    batch[BATCH_KEY] = {
        name: torch.from_numpy(np.stack([np.asarray(r[name]) for r in rows]))
        for name in rows[0]
    }
    for s in samples:
        del s.kdep_target
    return batch
