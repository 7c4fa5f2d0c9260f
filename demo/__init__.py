"""The KDEP demo and the evidence study: an application of kdep_mm, run
from the repository root and never installed.

    python -m demo [args]                 # the demo, end to end (make demo)
    python -m demo.prepare_assets [args]  # only the real teacher and images
    python -m demo.study [args]           # the evidence study

Being an application folder of the checkout (not a package in
site-packages), it finds its own configs beside it and the repository as
its parent: ``tools/train.py`` / ``tools/test.py`` run from there, and the
default work and data folders are ``<repo>/work_dirs`` and ``<repo>/data``.
"""
import os.path as osp

#: This folder (``<repo>/demo``).
DEMO_DIR = osp.dirname(osp.abspath(__file__))
#: The repository the demo is part of (its parent folder).
ROOT = osp.dirname(DEMO_DIR)
#: The configs of the demo and the study.
CONFIG_DIR = osp.join(DEMO_DIR, 'configs')


class DemoError(RuntimeError):
    """A demo or study stage cannot go on (the message says why); the
    ``python -m`` entry points turn it into an error message and exit
    status 1."""
