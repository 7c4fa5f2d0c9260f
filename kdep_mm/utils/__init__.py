from .checkpoint import (CheckpointMismatchError, DamagedFileError,
                         compare_state_dict, get_state_dict,
                         load_state_dict_strict, load_weights)
from .strict_pretrained import StrictPretrainedInit

__all__ = [
    'CheckpointMismatchError', 'DamagedFileError', 'compare_state_dict',
    'get_state_dict', 'load_state_dict_strict', 'load_weights',
    'StrictPretrainedInit'
]
