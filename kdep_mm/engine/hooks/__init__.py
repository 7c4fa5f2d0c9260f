from .basis_hook import KDEPBasisHook
from .export_hook import KDEPExportHook

__all__ = ['KDEPBasisHook', 'KDEPExportHook']
