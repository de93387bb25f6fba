"""The SQL clients on a lab server, as a PowerShell script on it meets them.

- WSUS 2.0's ``osql.exe`` under ``%ProgramFiles%\\Update Services\\tools\\osql`` and ``sqlcmd`` on
  the PATH exist only where the topology installs them (server key ``tools``, stored as
  LabSqlTools); no preset has either. Calling one that is absent fails as PowerShell does: "is not
  recognized".
- .NET's ``System.Data.SqlClient`` is always there (the .NET Framework has it).

Each reaches SUSDB only on this machine's own instance (wsusauto.lab.sqlserver), by a name or pipe
that names it, and only while the instance's service runs; otherwise it fails with its own text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from wsusauto.lab.invocation import ScriptError, command_not_found
from wsusauto.lab.model.store import TsqlError
from wsusauto.lab.sqlserver import SqlInstance, reaches, sql_instance

if TYPE_CHECKING:
    from wsusauto.lab.model.server import WsusServerModel

PROGRAM_FILES = "C:\\Program Files"
OSQL_PATH = PROGRAM_FILES + "\\Update Services\\tools\\osql\\osql.exe"
SQLCMD_PATH = PROGRAM_FILES + "\\Microsoft SQL Server\\Client SDK\\ODBC\\170\\Tools\\Binn\\SQLCMD.EXE"
_SQLCLIENT_UNREACHABLE = (
    "A network-related or instance-specific error occurred while establishing a connection to SQL "
    "Server. The server was not found or was not accessible. Verify that the instance name is correct "
    "and that SQL Server is configured to allow remote connections. (provider: Named Pipes Provider, "
    "error: 40 - Could not open a connection to SQL Server)"
)


def installed(server: WsusServerModel) -> list[str]:
    return [str(t) for t in server.get("LabSqlTools") or []]


def computer_name(server: WsusServerModel) -> str:
    """$env:COMPUTERNAME."""
    return server.name.upper()


def susdb_instance(server: WsusServerModel) -> SqlInstance:
    return sql_instance(str(server.get("SqlServerName")), computer_name(server))


def test_path(server: WsusServerModel, path: str) -> bool:
    """Test-Path -LiteralPath for the tools' files (Windows paths compare case-insensitively)."""
    return path.lower() == OSQL_PATH.lower() and "osql" in installed(server)


def get_command(server: WsusServerModel, name: str) -> str | None:
    """(Get-Command <name> -CommandType Application).Definition, or None when it is not found."""
    if name.lower() in ("sqlcmd", "sqlcmd.exe") and "sqlcmd" in installed(server):
        return SQLCMD_PATH
    return None


def _running(server: WsusServerModel, instance: SqlInstance) -> bool:
    services = {name.lower(): state for name, (state, _mode) in server.db.services().items()}
    return services.get(instance.service.lower()) == "Running"


def _denied(server: WsusServerModel, query: str) -> bool:
    return query.lower().lstrip().startswith("use susdb update") and "sql_update_fails" in server.faults


def run_tool(server: WsusServerModel, tool: str, target: str, query: str) -> tuple[int, list[str]]:
    """``& <tool> -S <target> -E -b ... -Q <query>``: (exit code, output lines). A tool that is not
    installed is not recognized."""
    if tool.lower() == OSQL_PATH.lower() and test_path(server, tool):
        method = "osql"
    elif tool.lower() == SQLCMD_PATH.lower() and get_command(server, "sqlcmd"):
        method = "sqlcmd"
    else:
        raise command_not_found(tool)
    instance = susdb_instance(server)
    if not reaches(instance, target) or not _running(server, instance):
        if method == "osql":
            return 1, [
                "[SQL Server Native Client 10.0]Named Pipes Provider: Could not open a connection to SQL "
                "Server [2]. ",
                "[SQL Server Native Client 10.0]Login timeout expired",
            ]
        return 1, [
            "Sqlcmd: Error: Microsoft ODBC Driver 17 for SQL Server : Named Pipes Provider: Could not open "
            "a connection to SQL Server [2]. .",
        ]
    label = instance.setting
    if _denied(server, query):
        return 1, [
            f"Msg 229, Level 14, State 5, Server {label}, Line 1",
            "The UPDATE permission was denied on the object 'tbConfigurationC', database 'SUSDB', "
            "schema 'dbo'.",
        ]
    try:
        return 0, server.db.execute_tsql(query)
    except TsqlError as error:
        return 1, [f"Msg {error.number}, Level 16, State 1, Server {label}, Line 1", error.message]


def _method_error(method: str, message: str) -> ScriptError:
    return ScriptError(
        f'Exception calling "{method}" with "0" argument(s): "{message}"',
        error_id="SqlException",
        category="NotSpecified",
        exception_type="System.Management.Automation.MethodInvocationException",
    )


def sqlclient(server: WsusServerModel, connection_string: str, query: str, write: bool) -> str:
    """A SqlConnection with this connection string, opened, then ExecuteNonQuery (``write``) or
    ExecuteScalar: '' or the scalar as PowerShell's [string] shows it (a bit column: True/False).
    Raises what Open and Execute* raise (MethodInvocationException)."""
    settings = {}
    for part in connection_string.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            settings[key.strip().lower()] = value.strip()
    instance = susdb_instance(server)
    target = settings.get("server", settings.get("data source", ""))
    if not reaches(instance, target) or not _running(server, instance):
        raise _method_error("Open", _SQLCLIENT_UNREACHABLE)
    if settings.get("integrated security", "").lower() not in ("true", "sspi", "yes"):
        raise _method_error("Open", "Login failed for user ''.")
    if settings.get("database", settings.get("initial catalog", "")).upper() != "SUSDB":
        raise _method_error(
            "Open", f'Cannot open database "{settings.get("database", "")}" requested by the login.'
        )
    if write and _denied(server, query):
        raise _method_error(
            "ExecuteNonQuery",
            "The UPDATE permission was denied on the object 'tbConfigurationC', database 'SUSDB', "
            "schema 'dbo'.",
        )
    try:
        rows = server.db.execute_tsql(query)
    except TsqlError as error:
        raise _method_error("ExecuteNonQuery" if write else "ExecuteScalar", error.message) from None
    if write or not rows:
        return ""
    first = rows[0].split()[0] if rows[0].split() else ""
    # tbConfigurationC's columns the lab reads are bits: SqlClient gives a Boolean.
    return {"1": "True", "0": "False"}.get(first, first)


def snippet_queries(snippet_text: str) -> tuple[str, str]:
    """$readQuery and $updateQuery of set_bits_foreground.ps1, so the lab runs exactly its SQL."""
    found = dict(re.findall(r"(?m)^\$(readQuery|updateQuery) = '([^']*)'$", snippet_text))
    if set(found) != {"readQuery", "updateQuery"}:
        raise ScriptError(
            "set_bits_foreground.ps1 no longer has the $readQuery and $updateQuery the lab runs."
        )
    return found["readQuery"], found["updateQuery"]
