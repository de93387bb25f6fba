"""Settings for the whole test run."""

from __future__ import annotations

import pytest

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
