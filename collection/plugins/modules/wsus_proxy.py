# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/) runs the task on the
# controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_proxy
short_description: Set the proxy a WSUS server uses to reach its upstream server or Microsoft Update
description:
  - Sets the API's C(UseProxy), C(ProxyName), C(ProxyServerPort), C(AnonymousProxyAccess), C(ProxyUserName),
    C(ProxyUserDomain) and C(AllowProxyCredentialsOverNonSsl) where they differ ("Issues with
    Synchronization" - check the proxy server settings).
  - The password travels as a SecureString to C(SetProxyPassword) and can never be read back - the server
    only says whether one is set. As with O(update_password=on_create), it is sent only where none is set
    yet, so a second run changes nothing; O(update_password=always) sends it on every run (after a rotation).
    The diff shows "(set)" or "(none)", never the value.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  enabled:
    description: Whether the server uses a proxy.
    type: bool
    required: true
  name:
    description: The proxy server's name.
    type: str
  port:
    description: The proxy server's port.
    type: int
  anonymous:
    description: Whether the proxy is used without credentials; V(false) requires O(user) and a password.
    type: bool
  user:
    description: The proxy user's name.
    type: str
  domain:
    description: The proxy user's domain.
    type: str
  password:
    description:
      - The proxy user's password (an Ansible Vault variable, for example). Never shown, logged or returned.
      - One of O(password), O(password_env) and O(password_file) at most.
    type: str
  password_env:
    description: The name of an environment variable on the controller that holds the password.
    type: str
  password_file:
    description: A file on the controller that holds the password (one trailing newline is dropped).
    type: path
  update_password:
    description: Send the password only when none is set yet (V(on_create)), or on every run (V(always)).
    type: str
    choices: [on_create, always]
    default: on_create
  basic_auth_cleartext:
    description:
      - The console's "Allow basic authentication (password in cleartext)"
        (C(AllowProxyCredentialsOverNonSsl)). The password then crosses the network in clear, so V(true)
        also requires O(allow_cleartext_proxy_password=true), and every result carries a warning.
    type: bool
  allow_cleartext_proxy_password:
    description: Allow O(basic_auth_cleartext=true).
    type: bool
    default: false
extends_documentation_fragment:
  - wsusauto.wsus.connection
  - wsusauto.wsus.state
"""

EXAMPLES = r"""
- name: Use an authenticated proxy; the password from the vault
  wsusauto.wsus.wsus_proxy:
    enabled: true
    name: proxy.corp.example
    port: 3128
    anonymous: false
    user: svc-wsus
    domain: CORP
    password: "{{ vault_wsus_proxy_password }}"

- name: No proxy
  wsusauto.wsus.wsus_proxy:
    enabled: false
"""

RETURN = r"""
msg:
  description: What was done, or would be done in check mode, in one line.
  returned: always
  type: str
diff:
  description: The WSUS API members that change, before and after (with C(--diff)).
  returned: changed and diff mode
  type: dict
  contains:
    before:
      description: Each changed member's value before.
      type: dict
    after:
      description: Each changed member's value after.
      type: dict
warnings:
  description: Said when the proxy password crosses the network in clear text (O(basic_auth_cleartext)).
  returned: when it does
  type: list
  elements: str
"""
