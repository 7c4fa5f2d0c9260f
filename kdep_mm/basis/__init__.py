"""The KDEP basis in one home: streaming float64 statistics
(:mod:`.covariance`), one teacher pass that fits and broadcasts it
(:mod:`.fit`), the basis file with its one reader (:mod:`.io`) and the one
decision of where a model's bases come from (:mod:`.lifecycle`). The
basis *state* lives in the terms' alignments
(:class:`kdep_mm.models.SVDPTSAlignment`), so checkpoints carry it."""
from .covariance import StreamingCovariance, numerical_rank
from .fit import fit_basis
from .io import load_basis, read_slots, save_basis
from .lifecycle import (basis_meta, ensure_basis, load_basis_into,
                        save_model_basis)

__all__ = [
    'StreamingCovariance', 'numerical_rank', 'fit_basis', 'basis_meta',
    'ensure_basis', 'load_basis', 'load_basis_into', 'read_slots',
    'save_basis', 'save_model_basis'
]
