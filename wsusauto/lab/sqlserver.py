"""Where a lab server's SUSDB lives and how a SQL client on that server reaches it.

The setup key's SqlServerName says where (wsus-api.md section 4): the internal database, reached by
its named pipe (WID on 2012 and later: ``\\\\.\\pipe\\MICROSOFT##WID\\tsql\\query``; SSEE under WSUS
3.0: ``\\\\.\\pipe\\MSSQL$MICROSOFT##SSEE\\sql\\query``), a SQL Server on the same machine, or one on
another machine. A client reaches a local instance only while its Windows service runs; a remote one
never from inside a WinRM session: integrated security there is a second hop, which carries no
credentials, so SQL Server sees NT AUTHORITY\\ANONYMOUS LOGON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WID_PIPE = "\\\\.\\pipe\\MICROSOFT##WID\\tsql\\query"
SSEE_PIPE = "\\\\.\\pipe\\MSSQL$MICROSOFT##SSEE\\sql\\query"
_LOCAL_HOSTS = (".", "(local)", "localhost", "127.0.0.1")


@dataclass(frozen=True)
class SqlInstance:
    setting: str  # the setup key's SqlServerName
    host: str  # its machine part
    local: bool
    internal: bool  # the Windows Internal Database (WID or SSEE)
    service: str  # the instance's Windows service on this machine ('' when remote)
    addresses: tuple[str, ...]  # the -S / Server= values that reach it from this machine (lower case)


def is_local_host(host: str, computer: str) -> bool:
    host = host.lower()
    return host in _LOCAL_HOSTS or host.split(".")[0] == computer.lower()


def sql_instance(setting: str, computer: str) -> SqlInstance:
    """The instance ``setting`` names, seen from ``computer``."""
    upper = setting.upper()
    host = re.split(r"[\\,]", setting)[0]
    if "##WID" in upper:
        return SqlInstance(setting, computer, True, True, "MSSQL$MICROSOFT##WID", (WID_PIPE.lower(),))
    if "##SSEE" in upper:
        return SqlInstance(setting, computer, True, True, "MSSQL$MICROSOFT##SSEE", (SSEE_PIPE.lower(),))
    if not is_local_host(host, computer):
        return SqlInstance(setting, host, False, False, "", ())
    name = setting[len(host) :].lstrip("\\")
    service = f"MSSQL${name.upper()}" if name else "MSSQLSERVER"
    names = {h + ("\\" + name if name else "") for h in (*_LOCAL_HOSTS, computer, host)}
    return SqlInstance(setting, host, True, False, service, tuple(sorted(n.lower() for n in names)))


def reaches(instance: SqlInstance, target: str) -> bool:
    """Whether a client's -S (or a connection string's Server=) value names this local instance;
    ``np:`` asks for named pipes, which every local instance here listens on."""
    wanted = target.strip().lower()
    wanted = wanted[3:] if wanted.startswith("np:") else wanted
    return instance.local and wanted in instance.addresses
