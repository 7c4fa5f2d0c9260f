"""The demo's data sets, one builder module per part (``teacher``,
``pool``, ``mnist5k``, ``elpv``, ``trees``, ``glyphs``), what they share
(:mod:`.common`) and :func:`prepare` (:mod:`.parts`), which builds the
requested parts into a data root and skips finished ones."""
from .parts import (DEFAULTS, LAYOUT_VERSION, PART_DIRS, PART_FUNCS,
                    PART_PACKAGES, PARTS, prepare)

__all__ = [
    'DEFAULTS', 'LAYOUT_VERSION', 'PART_DIRS', 'PART_FUNCS', 'PART_PACKAGES',
    'PARTS', 'prepare'
]
