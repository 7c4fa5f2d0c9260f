"""What hooks and tools rely on of a KDEP model, declared once.

:class:`KDEPBasisHook`, :class:`KDEPCheckInvalidLossHook`, the export and
the tools read a model only through these members, so every kind of run
(pooled, dense, cached, any mix of terms) gets the same checks: the
preflight of images, the cache binding, the basis, the report of the
first non-finite tensor, the export metadata.
"""
from typing import Dict, List, Optional, Protocol, runtime_checkable

import torch


@runtime_checkable
class Distiller(Protocol):
    """The declared interface of :class:`~kdep_mm.models.KDEP`."""

    #: The loss terms (:class:`~kdep_mm.models.terms.Term`).
    terms: List
    #: The target cache folder the terms read, or None.
    cache_folder: Optional[str]
    #: Whether training reads images (``--preflight`` applies).
    reads_images: bool

    @property
    def needs_teacher(self) -> bool:
        """Whether a term reads the teacher online."""

    def kdep_meta(self) -> Dict:
        """What checkpoints and exported students record."""

    def basis_slots(self) -> Dict:
        """The alignments that need a basis, by term name."""

    def basis_records(self) -> Dict[str, Dict]:
        """The identity record of each basis slot (for the basis file)."""

    def last_tensors(self) -> Dict[str, torch.Tensor]:
        """The last training step's tensors, in data-flow order."""
