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
