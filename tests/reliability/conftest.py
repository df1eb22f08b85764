"""Fixtures for the reliability suite: short network timeouts and the fault-injecting server.

A pass (``run_once``) and the service build their own ``Fetcher`` with production timeouts
(30 s, two retries with one-second backoff). Faults would make the suite crawl, so
``quick_fetch`` swaps in the same class with short timeouts for the duration of a test;
nothing else changes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

import monitor.drivers.service
from monitor.fetch import Fetcher
from tests.fakes.socket_faults import Blackhole, FaultServer

QUICK = {"timeout": 0.8, "connect_timeout": 0.5, "retries": 1, "retry_base": 0.05, "max_retry_wait": 0.5,
         "total_timeout": 2.0}


@pytest.fixture(autouse=True)
def quick_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    quick = functools.partial(Fetcher, **QUICK)
    monkeypatch.setattr(monitor.drivers.service, "Fetcher", quick)


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()
