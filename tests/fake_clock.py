"""A fake clock for code that reads `time.monotonic()` and waits with `time.sleep()` through its module's `time`:

    clock = FakeClock()
    monkeypatch.setattr(verifier, "time", clock)

Sleeping moves the clock on at once, so a bounded wait is exact (the test can assert how long the code waited, in
total and step by step) and the test takes no wall time, however loaded the machine is.
"""
from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 1_000.0):
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
