from .basis_hook import KDEPBasisHook
from .export_hook import KDEPExportHook
from .invalid_loss_hook import KDEPCheckInvalidLossHook, NonFiniteLossError
from .random_state_hook import KDEPRandomStateHook

__all__ = [
    'KDEPBasisHook', 'KDEPExportHook', 'KDEPCheckInvalidLossHook',
    'NonFiniteLossError', 'KDEPRandomStateHook'
]
