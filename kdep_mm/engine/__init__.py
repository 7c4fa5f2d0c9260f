from .hooks import *  # noqa: F401,F403
from .optim_wrapper import MixedPrecisionOptimWrapper


def amp_optim_wrapper_cfg(optim_wrapper: dict) -> dict:
    """The ``--amp`` switch: the same optimiser under mixed precision."""
    optim_wrapper = dict(optim_wrapper)
    optim_wrapper['type'] = 'MixedPrecisionOptimWrapper'
    optim_wrapper.setdefault('dtype', 'auto')
    return optim_wrapper


__all__ = ['MixedPrecisionOptimWrapper', 'amp_optim_wrapper_cfg']
