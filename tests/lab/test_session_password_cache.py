"""A Session used as a library keeps no password in a process-wide cache once it is closed.

The speed-ups keep each password's NTLM hashes (wsusauto.client.speedups) while a Session that
logs in with it is open. Here every object reachable from the modules of wsusauto's client and
from pyspnego's NTLM module (where the memoized hash functions are installed) is searched for the
password and its LM and NT hashes, before, while and after real NTLM logins to the lab.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
import spnego._ntlm as spnego_ntlm
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

from tests.lab_fixtures import lab_inventory, small_topology
from wsusauto.client.session import Session
from wsusauto.client.speedups import cached_password_hashes, forget_password_hashes
from wsusauto.config.secrets import Secret
from wsusauto.errors import AuthenticationFailed
from wsusauto.state.facts import gather_facts


def _searched_modules() -> list[ModuleType]:
    names = [name for name in sys.modules if name.startswith("wsusauto.client")]
    names += ["spnego._ntlm", "http.client"]  # where the speed-ups install their functions
    return [sys.modules[name] for name in names if sys.modules.get(name) is not None]


def _reachable(roots: list[ModuleType]) -> Iterator[Any]:
    """Every object reachable from these modules' globals (closures, caches of lru_cache
    wrappers, instances, containers), without entering other modules' globals."""
    gc.collect()
    root_dicts = {id(module.__dict__) for module in roots}
    other_globals = {
        id(module.__dict__) for module in list(sys.modules.values()) if module is not None
    } - root_dicts
    seen: set[int] = set()
    stack: list[Any] = [module.__dict__ for module in roots]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, ModuleType) or id(obj) in other_globals:
            continue
        seen.add(id(obj))
        yield obj
        stack.extend(gc.get_referents(obj))


def traces_of(password: str) -> list[str]:
    """What of the password or its hashes the searched modules can still reach."""
    secrets = {
        "password": password.encode("utf-8"),
        "password (UTF-16)": password.encode("utf-16-le"),
        "LM hash": lmowfv1(password),
        "NT hash": ntowfv1(password),
    }
    found = []
    for obj in _reachable(_searched_modules()):
        if isinstance(obj, str):
            data = obj.encode("utf-8", "surrogatepass")
        elif isinstance(obj, (bytes, bytearray)):
            data = bytes(obj)
        else:
            continue
        found += [f"{what} in a {type(obj).__name__}" for what, value in secrets.items() if value in data]
    return found


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(small_topology(2))


def _session(lab, host: str) -> Session:
    inventory = lab_inventory(lab, auth="ntlm", protocol="http")
    return Session(host, inventory.connection_options(inventory.hosts[host]), default_deadline=30)


def test_a_closed_session_leaves_no_password_in_any_cache(lab):
    forget_password_hashes()
    session = _session(lab, "wsus-root")
    password = session.options.password.reveal()
    assert traces_of(password) == []
    with session:
        assert gather_facts(session).host == "wsus-root"
        # the search sees the cache while the session is open: one LM and one NT hash
        assert cached_password_hashes() == 2
        assert sorted(traces_of(password)) == ["LM hash in a bytes", "NT hash in a bytes"]
    assert cached_password_hashes() == 0
    assert traces_of(password) == []


def test_one_closed_session_keeps_the_hashes_another_open_one_uses(lab):
    forget_password_hashes()
    first, second = _session(lab, "wsus-root"), _session(lab, "wsus-01")
    password = first.options.password.reveal()
    with first:
        with second:
            gather_facts(first)
            gather_facts(second)
            assert cached_password_hashes() == 2  # derived once for both
        assert cached_password_hashes() == 2  # the first session still logs in with it
        first.close()
        first.open()  # reopens (a lost session does the same): derives from the kept hashes
        assert gather_facts(first).host == "wsus-root"
    assert cached_password_hashes() == 0
    assert traces_of(password) == []


def test_a_session_that_never_opened_keeps_nothing(lab):
    forget_password_hashes()
    inventory = lab_inventory(lab, auth="ntlm", protocol="http")
    options = inventory.connection_options(inventory.hosts["wsus-root"])
    wrong = "Wrong-" + options.password.reveal()
    session = Session("wsus-root", replace(options, password=Secret(wrong)), default_deadline=30)
    with pytest.raises(AuthenticationFailed):
        session.open()
    assert not session.is_open
    assert cached_password_hashes() == 0
    assert traces_of(wrong) == []


def test_the_hash_functions_pyspnego_calls_are_the_memoized_ones(lab):
    # The search above is meaningful only if pyspnego derives through the installed functions.
    with _session(lab, "wsus-root"):
        assert getattr(spnego_ntlm.ntowfv1, "memoized_by_wsusauto", False)
        assert getattr(spnego_ntlm.lmowfv1, "memoized_by_wsusauto", False)
