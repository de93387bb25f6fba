"""SSL-only administration over the lab: a server whose setup key says UsingSSL = 1 refuses
AdminProxy.GetUpdateServer() without arguments (a WebException, as IIS refuses plain HTTP there); the
shipped snippets connect with the machine's DNS name, SSL and the key's PortNumber and work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab_fixtures import lab_inventory
from wsusauto.client.session import Session
from wsusauto.client.snippets import SnippetRegistry, registry, snippets_dir
from wsusauto.errors import RemoteError
from wsusauto.operations import run_operation
from wsusauto.state.facts import gather_facts

PROLOGUE = (Path(__file__).resolve().parent.parent / "data" / "wsus_connect_prologue.txt").read_text()
# The connection every snippet made before SSL-only servers were modelled.
OLD_CONNECTION = (
    "[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')\n"
    "$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()\n"
)


@pytest.fixture(scope="module")
def lab(make_module_lab):
    return make_module_lab(
        {
            "servers": [
                {"name": "wsus-ssl", "initial": {"UsingSSL": 1}},
                {"name": "wsus-plain"},
            ]
        }
    )


@pytest.fixture(scope="module")
def old_snippets(tmp_path_factory):
    """The shipped snippets with the old connection line instead of the shared prologue."""
    directory = tmp_path_factory.mktemp("old-snippets")
    for path in snippets_dir().glob("*.ps1"):
        text = path.read_bytes().decode("utf-8")
        (directory / path.name).write_bytes(text.replace(PROLOGUE, OLD_CONNECTION).encode("utf-8"))
    old = SnippetRegistry(directory)
    assert old["get_facts"].text != registry()["get_facts"].text
    return old


def _session(lab, name, snippets=None):
    inventory = lab_inventory(lab)
    return Session(name, inventory.connection_options(inventory.hosts[name]), snippets=snippets)


def test_an_ssl_server_answers_facts_and_a_configuration_run(lab):
    with _session(lab, "wsus-ssl") as session:
        facts = gather_facts(session)
        result = run_operation(
            session,
            "schedule",
            {"automatic": True, "time": "03:00", "per_day": 2},
        )
        after = gather_facts(session)
    assert facts.name == "wsus-ssl"
    assert result.changed
    assert after.synchronize_automatically and after.number_of_synchronizations_per_day == 2


def test_the_old_default_connection_is_refused_by_an_ssl_server(lab, old_snippets, monkeypatch):
    monkeypatch.setattr(lab.handlers, "snippets", old_snippets)
    with _session(lab, "wsus-ssl", old_snippets) as session, pytest.raises(RemoteError) as refused:
        gather_facts(session)
    assert "GetUpdateServer" in refused.value.remote_text
    assert "403" in refused.value.remote_text


def test_the_old_default_connection_still_works_on_a_server_without_ssl(lab, old_snippets, monkeypatch):
    # The lab refuses the plain connection only where the setup key asks for SSL.
    monkeypatch.setattr(lab.handlers, "snippets", old_snippets)
    with _session(lab, "wsus-plain", old_snippets) as session:
        assert gather_facts(session).name == "wsus-plain"
