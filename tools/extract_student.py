"""Write the backbone-only file of a KDEP pre-training checkpoint.

    python tools/extract_student.py work_dirs/<run>/epoch_90.pth \
        [--out-dir DIR] [--name STEM]

The output ``<STEM>-<sha256[:8]>.pth`` holds the student backbone tensors
(keys without ``backbone.``) and metadata (teacher, student architecture,
tap), and is readable with ``torch.load(weights_only=True)``. It is refused
if the input is not a KDEP checkpoint, any student key is missing, or its
tensors differ from the checksum recorded when it was saved (a damaged
checkpoint is never stamped with a fresh checksum).
"""
import argparse
import os.path as osp
import pickle
import sys

from kdep_mm.utils.checkpoint import CheckpointMismatchError, DamagedFileError
from kdep_mm.utils.export import NotAKDEPCheckpointError, export_student


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the student backbone of a KDEP checkpoint')
    parser.add_argument('checkpoint', help='KDEP pre-training checkpoint')
    parser.add_argument(
        '--out-dir',
        help='output directory (default: the checkpoint\'s directory)')
    parser.add_argument(
        '--name',
        help='file name stem; "-<hash>.pth" is appended (default: '
        'kdep_<student>_from_<teacher>)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    try:
        path = export_student(args.checkpoint, out_dir, name=args.name)
    except (NotAKDEPCheckpointError, CheckpointMismatchError, DamagedFileError,
            FileNotFoundError, pickle.UnpicklingError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
