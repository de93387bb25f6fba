"""Settings for the whole test run, and the one way tests start a lab.

A lab per test::

    def test_something(make_lab):
        lab = make_lab(small_topology(3), time_scale=10)  # stopped when the test ends

A lab a module's tests share (started once, stopped after the module's last test)::

    @pytest.fixture(scope="module")
    def lab(make_module_lab):
        return make_module_lab({"servers": [{"name": "wsus-root"}]})

Both take a topology (a ``Topology``, a topology document, or None for ``small_topology()``) and
the ``Lab`` options (``time_scale``, ``kerberos``, ``workers``, ...): see
``tests/lab_fixtures.LabFactory``. Each lab has its own directory and its own loopback /24.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab_fixtures import LabFactory

# No realm, no DNS: a Kerberos client that finds nothing here fails at once, without a look-up.
_NO_REALM = """[libdefaults]
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
"""


@pytest.fixture(autouse=True, scope="session")
def no_machine_kerberos(tmp_path_factory):
    """Never this machine's Kerberos set-up: a Negotiate login tries Kerberos before NTLM, and
    Debian's default /etc/krb5.conf names MIT's public KDCs (the network beyond loopback), while a
    developer's own ticket cache would change what a test logs in with. The Kerberos tests bring
    the lab realm's krb5.conf instead; child processes inherit whichever is set."""
    directory = tmp_path_factory.mktemp("no-kerberos")
    config = directory / "krb5.conf"
    config.write_text(_NO_REALM, encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KRB5_CONFIG", str(config))
        env.setenv("KRB5CCNAME", f"FILE:{directory / 'no-cache'}")
        env.setenv("KRB5_CLIENT_KTNAME", f"FILE:{directory / 'no-keytab'}")
        env.delenv("KRB5_KTNAME", raising=False)
        yield


@pytest.fixture
def make_lab(tmp_path) -> Iterator[LabFactory]:
    """Starts labs for one test (``make_lab(topology, **options)``); they stop when it ends."""
    factory = LabFactory(tmp_path / "labs")
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def make_module_lab(tmp_path_factory) -> Iterator[LabFactory]:
    """Starts labs a module's tests share; they stop after the module's last test."""
    factory = LabFactory(tmp_path_factory.mktemp("module-labs"))
    try:
        yield factory
    finally:
        factory.close()
