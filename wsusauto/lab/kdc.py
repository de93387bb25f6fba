"""The lab's Kerberos realm: MIT krb5's own KDC (``krb5kdc``) on one loopback address.

The lab drives Debian's ``krb5-kdc`` and ``krb5-admin-server`` binaries the way MIT's test suite
(and the ``k5test`` package) does, with two differences: the KDC listens on the lab's loopback
address only (``kdc_listen``), never on every interface, and the realm lives under the lab's state
directory so a restarted lab keeps its principals and keys.

Principals: the lab's user (``wsusadmin@REALM``, the lab's password) and, for every lab server,
``WSMAN/<name>`` (the SPN WinRM registers and Ansible's default ``negotiate_service``) and
``HTTP/<name>``, both in the lab's service keytab. Clients get ``krb5.conf`` with
``dns_canonicalize_hostname = false``, ``rdns = false`` and ``qualify_shortname = ""``: the SPN is
built from the name the client is given (``ansible_psrp_negotiate_hostname_override``), never from
DNS, so no ``/etc/hosts`` entry is needed for a server reached by its loopback address.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from wsusauto.errors import UsageError

DEFAULT_REALM = "WSUSLAB.TEST"
KDC_PORT = 10088  # unprivileged, below Linux's ephemeral range; the lab's address keeps it apart
SERVICES = ("WSMAN", "HTTP")
_PROGRAMS = {
    "kdb5_util": "/usr/sbin/kdb5_util",
    "kadmin.local": "/usr/sbin/kadmin.local",
    "krb5kdc": "/usr/sbin/krb5kdc",
}
_START_TIMEOUT = 20.0


class KerberosUnavailable(UsageError):
    """MIT krb5's KDC programs are not installed (Debian: krb5-kdc, krb5-admin-server, krb5-user)."""


def missing_programs() -> list[str]:
    """The MIT programs the lab realm needs that this machine lacks (empty: it can run)."""
    missing = [name for name, path in _PROGRAMS.items() if not (shutil.which(name) or Path(path).exists())]
    if not (shutil.which("kinit") or Path("/usr/bin/kinit").exists()):
        missing.append("kinit")
    return missing


def _die_with_parent() -> None:
    """In the KDC's process before exec: Linux sends it SIGTERM when the lab's process dies, even
    by SIGKILL, so no orphaned KDC keeps the lab's address and port."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _program(name: str) -> str:
    return shutil.which(name) or _PROGRAMS.get(name, name)


def service_principals(server: str, realm: str) -> list[str]:
    """A lab server's SPNs; MIT lower-cases the host part of a host-based name, so the lab does too."""
    return [f"{service}/{server.lower()}@{realm}" for service in SERVICES]


class LabRealm:
    """One Kerberos realm for one lab: a KDC process, its database, krb5.conf and keytabs."""

    def __init__(
        self,
        directory: str | Path,
        *,
        address: str,
        user: str,
        password: str,
        servers: Iterable[str],
        realm: str = DEFAULT_REALM,
        port: int = KDC_PORT,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.address, self.port, self.realm = address, port, realm
        self.user = user
        self._password = password
        self.servers = list(servers)
        self._process: subprocess.Popen[bytes] | None = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def krb5_conf(self) -> Path:
        """The client configuration (``KRB5_CONFIG``) for this realm."""
        return self.directory / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.directory / "kdc.conf"

    @property
    def service_keytab(self) -> Path:
        """Every lab server's keys: what the lab's endpoints accept with."""
        return self.directory / "services.keytab"

    @property
    def user_keytab(self) -> Path:
        """The lab user's key (``KRB5_CLIENT_KTNAME``, or ``kinit -k -t``) for passwordless runs."""
        return self.directory / "user.keytab"

    @property
    def user_principal(self) -> str:
        return f"{self.user}@{self.realm}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LabRealm:
        missing = missing_programs()
        if missing:
            raise KerberosUnavailable(
                f"the lab's Kerberos realm needs MIT krb5 ({', '.join(missing)} not found); "
                "install Debian's krb5-kdc, krb5-admin-server and krb5-user"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._write_configs()
        if not (self.directory / "principal").exists():
            master = secrets.token_urlsafe(24)
            self._run([_program("kdb5_util"), "create", "-s", "-W", "-r", self.realm, "-P", master])
        self._add_principals()
        self._start_kdc()
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> LabRealm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- set-up ------------------------------------------------------------------------------

    def _write_configs(self) -> None:
        kdc = f"{self.address}:{self.port}"
        self.krb5_conf.write_text(
            "\n".join(
                [
                    f"# Written by wsusauto's lab for its realm {self.realm}:",
                    f"#   export KRB5_CONFIG={self.krb5_conf}",
                    "[libdefaults]",
                    f"    default_realm = {self.realm}",
                    "    dns_lookup_kdc = false",
                    "    dns_lookup_realm = false",
                    # The SPN comes from the name the client was given, never from DNS: lab servers are
                    # reached by a loopback address and named by ansible_psrp_negotiate_hostname_override.
                    "    dns_canonicalize_hostname = false",
                    "    rdns = false",
                    '    qualify_shortname = ""',
                    "    forwardable = true",
                    "",
                    "[realms]",
                    f"    {self.realm} = {{",
                    f"        kdc = {kdc}",
                    "    }",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self.kdc_conf.write_text(
            "\n".join(
                [
                    "[kdcdefaults]",
                    f"    kdc_listen = {kdc}",
                    f"    kdc_tcp_listen = {kdc}",
                    "",
                    "[realms]",
                    f"    {self.realm} = {{",
                    f"        database_name = {self.directory / 'principal'}",
                    f"        key_stash_file = {self.directory / 'stash'}",
                    f"        acl_file = {self.directory / 'kadm5.acl'}",
                    f"        kdc_listen = {kdc}",
                    f"        kdc_tcp_listen = {kdc}",
                    "        max_life = 10h",
                    "        max_renewable_life = 7d",
                    "    }",
                    "",
                    "[logging]",
                    f"    kdc = FILE:{self.directory / 'kdc.log'}",
                    f"    default = FILE:{self.directory / 'krb5.log'}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        (self.directory / "kadm5.acl").write_text("", encoding="utf-8")

    def _run(self, args: list[str], stdin: str | None = None) -> str:
        result = subprocess.run(
            args, input=stdin, capture_output=True, text=True, env=self.env(), timeout=120, check=False
        )
        if result.returncode != 0:
            # kadmin.local echoes no password (they travel on stdin); its first error line names the cause.
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[0] if detail else f"exit code {result.returncode}"
            raise UsageError(f"the lab's Kerberos realm: {Path(args[0]).name} failed: {reason}")
        return result.stdout

    def _add_principals(self) -> None:
        """Add what is missing (a restarted lab keeps its keys), then export both keytabs afresh
        with the keys the database holds (``-norandkey``), so tickets issued before stay valid."""
        existing = set(self._run([_program("kadmin.local"), "-q", "listprincs"]).split())
        services = [p for server in self.servers for p in service_principals(server, self.realm)]
        commands = [f"addprinc -randkey {p}" for p in services if p not in existing]
        if self.user_principal not in existing:
            # Pre-authentication required, as Active Directory requires it of every account.
            commands.append(f"addprinc -requires_preauth -pw {self._password} {self.user_principal}")
        else:
            # The lab's password is made once per state directory; keep the principal's in step.
            commands.append(f"cpw -pw {self._password} {self.user_principal}")
        for keytab in (self.service_keytab, self.user_keytab):
            keytab.unlink(missing_ok=True)
        # kadmin.local reads one command per line from stdin (the password never reaches argv).
        for start in range(0, len(services), 200):
            chunk = " ".join(services[start : start + 200])
            commands.append(f"ktadd -k {self.service_keytab} -norandkey {chunk}")
        commands.append(f"ktadd -k {self.user_keytab} -norandkey {self.user_principal}")
        self._run([_program("kadmin.local")], stdin="\n".join(commands) + "\n")
        for keytab in (self.service_keytab, self.user_keytab) if services else (self.user_keytab,):
            if not keytab.exists():
                raise UsageError(f"the lab's Kerberos realm: kadmin.local wrote no {keytab.name}")
            os.chmod(keytab, 0o600)

    def _start_kdc(self) -> None:
        log = open(self.directory / "krb5kdc.out", "ab")  # noqa: SIM115 - the child keeps it
        with log:
            self._process = subprocess.Popen(
                [_program("krb5kdc"), "-n", "-r", self.realm],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,  # Ctrl+C on `lab serve` stops the KDC through stop(), in order
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise UsageError(
                    f"the lab's KDC stopped at start (is another lab using {self.address}:{self.port}? "
                    f"see {self.directory / 'kdc.log'})"
                )
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise UsageError(
            f"the lab's KDC did not listen on {self.address}:{self.port} within {_START_TIMEOUT:g} s"
        )
