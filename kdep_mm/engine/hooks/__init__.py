from .basis_hook import KDEPBasisHook
from .continue_hook import KDEPContinueHook
from .export_hook import KDEPExportHook
from .invalid_loss_hook import KDEPCheckInvalidLossHook, NonFiniteLossError
from .random_state_hook import KDEPRandomStateHook

__all__ = [
    'KDEPBasisHook', 'KDEPContinueHook', 'KDEPExportHook',
    'KDEPCheckInvalidLossHook', 'NonFiniteLossError', 'KDEPRandomStateHook'
]
