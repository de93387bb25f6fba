"""Run by the Ansible venv's Python (tests/ansible/test_plugin_specs.py): each action plugin of the
installed collection as JSON - its operation, argument spec, rules and hidden arguments.

    python dump_plugin_specs.py COLLECTIONS_DIR NAME...
"""

from __future__ import annotations

import json
import sys

from ansible.plugins.loader import action_loader, init_plugin_loader


def main() -> None:
    init_plugin_loader([sys.argv[1]])
    specs = {}
    for name in sys.argv[2:]:
        plugin = action_loader.get(f"wsusauto.wsus.{name}", class_only=True)
        if plugin is None:
            sys.exit(f"action plugin wsusauto.wsus.{name} not found")
        specs[name] = {
            "operation": getattr(plugin, "operation", ""),
            "argument_spec": plugin.argument_spec,
            "argument_rules": plugin.argument_rules,
            "hidden_arguments": list(getattr(plugin, "hidden_arguments", ())),
        }
    print(json.dumps(specs))


if __name__ == "__main__":
    main()
