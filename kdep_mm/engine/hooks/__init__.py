from .basis_hook import KDEPBasisHook
from .checkpoint_hook import KDEPCheckpointHook, use_safe_checkpoints
from .continue_hook import KDEPContinueHook
from .export_hook import KDEPExportHook
from .invalid_loss_hook import KDEPCheckInvalidLossHook, NonFiniteLossError
from .random_state_hook import KDEPRandomStateHook

__all__ = [
    'KDEPBasisHook', 'KDEPCheckpointHook', 'use_safe_checkpoints',
    'KDEPContinueHook', 'KDEPExportHook', 'KDEPCheckInvalidLossHook',
    'NonFiniteLossError', 'KDEPRandomStateHook'
]
