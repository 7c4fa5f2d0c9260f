from .alignment import SVDPTSAlignment, power_temperature_scaling
from .baseline_alignments import LogitKDAlignment, ParametricAlignment
from .cached_kdep import CachedKDEP
from .data_preprocessor import KDEPDataPreprocessor
from .dense_kdep import DenseKDEP
from .kdep import KDEP
from .losses import KDEPLoss
from .protocol import Distiller
from .taps import FeatureTap, build_tap, default_tap_cfg, resample_map
from .teacher import build_teacher, weights_fingerprint
from .terms import Term

__all__ = [
    'KDEP', 'DenseKDEP', 'CachedKDEP', 'KDEPDataPreprocessor', 'Distiller',
    'Term', 'resample_map', 'KDEPLoss', 'SVDPTSAlignment',
    'ParametricAlignment', 'LogitKDAlignment', 'power_temperature_scaling',
    'FeatureTap', 'build_tap', 'default_tap_cfg', 'build_teacher',
    'weights_fingerprint'
]
