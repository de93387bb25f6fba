"""The lab's NTLM user file: pyspnego's acceptor finds each user by name and checks the password
from the stored hashes, whatever characters the password has."""

from __future__ import annotations

import pytest
import spnego

from wsusauto.lab.wsman.auth import install_ntlm_users

USERS = [("lab", "Pa:ss w0rd!"), ("CONTOSO\\wsus-admin", "ÜnïcødeP@ss"), ("other", "x")]


@pytest.fixture
def user_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NTLM_USER_FILE", "")  # restored after the test: the lab sets it process-wide
    path = tmp_path / "ntlm-users"
    install_ntlm_users(path, USERS)
    return path


def authenticate(username: str, password: str) -> str | None:
    client = spnego.client(username, password, hostname="lab", protocol="ntlm")
    server = spnego.server(protocol="ntlm")
    token = client.step()
    while not (client.complete and server.complete):
        token = server.step(token)
        if token is None or client.complete:
            break
        token = client.step(token)
    return server.client_principal if server.complete else None


@pytest.mark.parametrize(("username", "password"), USERS)
def test_each_user_authenticates_with_its_password(user_file, username, password):
    assert authenticate(username, password) == username


def test_a_wrong_password_is_refused(user_file):
    with pytest.raises(spnego.exceptions.SpnegoError):
        authenticate("lab", "Pa:ss w0rd")


def test_the_file_holds_hashes_not_passwords(user_file):
    text = user_file.read_text(encoding="utf-8")
    assert all(password not in text for _user, password in USERS)
    assert (user_file.stat().st_mode & 0o777) == 0o600
