"""Opening sessions from many threads at once: pypsrp's WSMan() mutates ElementTree's global
namespace map, which is not thread-safe (the 300-host soak run once died of a KeyError in it)."""

from __future__ import annotations

import sys
import threading

import pytest

from wsusauto.client.session import ConnectionOptions, new_wsman
from wsusauto.config.secrets import Secret

THREADS = 8
CONSTRUCTIONS_PER_THREAD = 300


@pytest.fixture
def frequent_thread_switches():
    # Switching threads every microsecond makes the unsafe interleaving likely within a second;
    # without the lock in new_wsman this test fails with KeyError on this machine on every run.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_wsman_construction_is_safe_from_many_threads(frequent_thread_switches):
    options = ConnectionOptions(
        address="127.0.0.1", port=5985, username="lab", password=Secret("x"), auth="ntlm", ssl=False
    )
    errors: list[BaseException] = []

    def open_many():
        for _ in range(CONSTRUCTIONS_PER_THREAD):
            try:
                new_wsman(options).transport.close()
            except BaseException as exc:  # collected, the assertion below reports them
                errors.append(exc)

    workers = [threading.Thread(target=open_many) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
