"""One overall progress line for the demo: stage k of n, elapsed time and
an estimate of the time left.

The estimate scales the stage times measured on the reference machine
(:data:`EXPECTED_SECONDS`) by how fast the finished stages went here, so it
adapts to a slower or busier machine after the first stage. On a terminal
the line is redrawn in place; in a log (not a TTY) it is printed at most
every ``interval`` seconds.
"""
import re
import sys
import threading
import time
from typing import Dict, Optional, Sequence

#: Stage times (s) of ``make demo`` on a fresh clone of the reference 2-core
#: CPU, idle, with the demo's schedules (2026-12-01, see the README; mnist
#: is not a default task: a guess); only the estimate uses them.
EXPECTED_SECONDS = dict(
    assets=30, pretrain=210, analysis=5, cls=140, mnist=120, det=115, seg=180)

_RUNNER_LINE = re.compile(r'(Epoch|Iter)\((train|val|test)\)\s*(\[[^\]]*\])+')


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f'{seconds // 60}:{seconds % 60:02d}'


class Progress:
    """The demo's progress line.

    Args:
        stages (Sequence[str]): Stage keys in order (``assets``,
            ``pretrain``, ``analysis``, then the task names).
        expected (dict, optional): Expected seconds per stage. Defaults to
            :data:`EXPECTED_SECONDS`.
        stream: Where the line goes. Defaults to stdout.
        interval (float): Seconds between lines when not on a terminal.
    """

    def __init__(self,
                 stages: Sequence[str],
                 expected: Optional[Dict[str, float]] = None,
                 stream=None,
                 interval: float = 30.0):
        self.stages = list(stages)
        self.expected = dict(EXPECTED_SECONDS, **(expected or {}))
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.interval = interval
        self.start_time = time.time()
        self.done: Dict[str, float] = {}
        self.current: Optional[str] = None
        self.current_start = self.start_time
        self.details: Dict[str, str] = {}
        self._last_print = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------- estimate
    def speed(self) -> float:
        """Actual / expected time of the finished stages that really ran
        (1 before any). Short stages and reused ones (a finished stage
        takes seconds) say nothing about this machine and are left out."""
        ran = [
            s for s, t in self.done.items()
            if self.expected.get(s, 0) >= 30 and t >= 0.25 * self.expected[s]
        ]
        expected = sum(self.expected[s] for s in ran)
        if expected <= 0:
            return 1.0
        return sum(self.done[s] for s in ran) / expected

    def remaining(self) -> float:
        """Estimated seconds left."""
        speed = self.speed()
        todo = [
            s for s in self.stages if s not in self.done and s != self.current
        ]
        left = speed * sum(self.expected.get(s, 0) for s in todo)
        if self.current is not None:
            in_stage = time.time() - self.current_start
            left += max(0.0,
                        speed * self.expected.get(self.current, 0) - in_stage)
        return left

    def line(self) -> str:
        k = (
            self.stages.index(self.current) +
            1 if self.current in self.stages else len(self.done))
        detail = '  '.join(f'{name}: {d}'
                           for name, d in sorted(self.details.items()))
        return (f'[demo] stage {k}/{len(self.stages)} {self.current or ""} | '
                f'elapsed {_clock(time.time() - self.start_time)} | about '
                f'{_clock(self.remaining())} left' +
                (f' | {detail}' if detail else ''))

    # --------------------------------------------------------------- events
    def begin(self, stage: str) -> None:
        self.current, self.current_start = stage, time.time()
        self.details = {}
        self.show(force=True)

    def end(self, stage: str) -> None:
        self.done[stage] = time.time() - self.current_start
        self.current = None
        self.details = {}

    def runner_line(self, name: str, text: str) -> None:
        """Feed one output line of a run called ``name``; runner progress
        (``Epoch(train) [3][40/94]``) becomes the line's detail."""
        match = _RUNNER_LINE.search(text)
        if match:
            self.details[name] = match.group(0).replace('  ', ' ')
            self.show()

    def show(self, force: bool = False) -> None:
        with self._lock:
            now = time.time()
            if self.tty:
                self.stream.write('\r\033[K' + self.line()[:200])
            elif force or now - self._last_print >= self.interval:
                self.stream.write(self.line() + '\n')
            else:
                return
            self._last_print = now
            self.stream.flush()

    def newline(self) -> None:
        """End the redrawn line before other output (terminals only)."""
        if self.tty:
            with self._lock:
                self.stream.write('\n')
                self.stream.flush()
