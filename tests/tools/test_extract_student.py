"""tools/extract_student.py: the backbone-only file of a KDEP checkpoint
from the command line; refusals exit with status 1 and the reason."""
import os.path as osp
import subprocess
import sys

from tests.helpers.tiny import ROOT as REPO
from tools.extract_student import main


def test_extract_student_cli(kdep_ckpt, tmp_path, capsys):
    out = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'extract_student.py'),
        kdep_ckpt('resnet18'), '--out-dir',
        str(tmp_path), '--name', 'r18'
    ],
                         capture_output=True,
                         text=True,
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert osp.basename(out.stdout.strip()).startswith('r18-')
    # refusals: exit status 1 and the reason (in-process, faster)
    assert main([out.stdout.strip()]) == 1
    assert 'already' in capsys.readouterr().err


def test_damaged_checkpoint_is_named(kdep_ckpt, tmp_path, capsys):
    """A half-written (truncated) or empty checkpoint gives a message that
    names the file and says it is damaged, not a zip-reader error."""
    data = open(kdep_ckpt('resnet18'), 'rb').read()
    half = tmp_path / 'half.pth'
    half.write_bytes(data[:len(data) // 2])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    assert main([str(half)]) == 1
    err = capsys.readouterr().err
    assert str(half) in err and 'damaged or truncated' in err
    assert main([str(empty)]) == 1
    err = capsys.readouterr().err
    assert str(empty) in err and 'is empty' in err
