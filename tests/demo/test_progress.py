"""The demo's one progress line: stage k of n, elapsed, time left."""
import io

import pytest

from demo import progress as progress_mod
from demo.progress import Progress


def test_estimate_scales_with_the_measured_speed(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress_mod.time, 'time', lambda: now[0])
    out = io.StringIO()
    p = Progress(['a', 'b', 'c'],
                 expected=dict(a=40, b=40, c=60),
                 stream=out,
                 interval=0)
    assert p.remaining() == pytest.approx(140)  # nothing measured yet
    p.begin('a')
    now[0] += 80  # stage a took twice its expected time
    p.end('a')
    assert p.speed() == pytest.approx(2.0)
    assert p.remaining() == pytest.approx(2 * (40 + 60))
    p.begin('b')
    now[0] += 10
    assert p.remaining() == pytest.approx(2 * 40 - 10 + 2 * 60)
    line = p.line()
    assert line.startswith('[demo] stage 2/3 b | elapsed 1:30 | about 3:10')
    p.runner_line('kdep', 'mmengine - INFO - Epoch(train) [3][ 40/94]  lr')
    assert 'kdep: Epoch(train) [3][ 40/94]' in p.line()
    p.runner_line('kdep', 'no runner progress here')  # detail unchanged
    assert 'kdep: Epoch(train) [3]' in p.line()
    assert out.getvalue().count('[demo] stage') >= 2  # not a TTY: lines


def test_overrun_stage_never_gives_negative_time(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, 'time', lambda: now[0])
    p = Progress(['a'], expected=dict(a=10), stream=io.StringIO())
    p.begin('a')
    now[0] += 100
    assert p.remaining() == 0


def test_reused_stage_does_not_skew_the_estimate(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress_mod.time, 'time', lambda: now[0])
    p = Progress(['a', 'b'], expected=dict(a=200, b=100), stream=io.StringIO())
    p.begin('a')
    now[0] += 3  # reused: a finished stage takes seconds
    p.end('a')
    assert p.speed() == 1.0 and p.remaining() == pytest.approx(100)
