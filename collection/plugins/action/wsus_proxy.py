# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""wsus_proxy: the proxy WSUS uses to reach its upstream (wsusauto's ``proxy``). The password is
an Ansible no_log option, handed to wsusauto as a Secret: shown as ******** wherever it could show."""

from __future__ import annotations

import typing as t

from ansible_collections.wsusauto.wsus.plugins.plugin_utils.wsus_action import WsusAction, secret


class ActionModule(WsusAction):
    operation = "proxy"
    argument_spec = {
        "enabled": {"type": "bool", "required": True},
        "name": {"type": "str"},
        "port": {"type": "int"},
        "anonymous": {"type": "bool"},
        "user": {"type": "str"},
        "domain": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "password_env": {"type": "str", "no_log": False},
        "password_file": {"type": "path", "no_log": False},
        "update_password": {
            "type": "str",
            "choices": ["on_create", "always"],
            "default": "on_create",
            "no_log": False,
        },
        "basic_auth_cleartext": {"type": "bool"},
        "allow_cleartext_proxy_password": {"type": "bool", "default": False, "no_log": False},
    }
    argument_rules = {"mutually_exclusive": [["password", "password_env", "password_file"]]}

    def operation_args(self, args: dict[str, t.Any]) -> dict[str, t.Any]:
        if "password" in args:
            args["password"] = secret(args["password"])
        return args
