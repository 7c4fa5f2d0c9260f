"""The KDEP basis in one home: streaming float64 statistics
(:mod:`.covariance`), one teacher pass that fits and broadcasts it
(:mod:`.fit`), and the basis file with its one metadata schema
(:mod:`.io`). The basis *state* lives in the alignment's buffers
(:class:`kdep_mm.models.SVDPTSAlignment`), so checkpoints carry it."""
from .covariance import StreamingCovariance, numerical_rank
from .fit import fit_basis
from .io import (basis_meta, load_basis, load_basis_into, save_basis,
                 save_model_basis)

__all__ = [
    'StreamingCovariance', 'numerical_rank', 'fit_basis', 'basis_meta',
    'load_basis', 'load_basis_into', 'save_basis', 'save_model_basis'
]
