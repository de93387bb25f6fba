# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/) runs the task on the
# controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_replica
short_description: Designate a WSUS server a replica of its upstream server, or release it
description:
  - Sets the API's C(IsReplicaServer) - a replica inherits update approvals, computer groups, products and
    classifications from its upstream server ("Running WSUS 3.0 SP2 in Replica Mode").
  - WSUS refuses a replica that synchronizes from Microsoft Update, so point the server at its upstream
    first with M(wsusauto.wsus.wsus_update_source); otherwise the task refuses and changes nothing.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  enabled:
    description: Whether the server is a replica.
    type: bool
    required: true
extends_documentation_fragment:
  - wsusauto.wsus.connection
  - wsusauto.wsus.state
seealso:
  - module: wsusauto.wsus.wsus_update_source
"""

EXAMPLES = r"""
- name: Point at the upstream server, then become its replica
  block:
    - wsusauto.wsus.wsus_update_source:
        source: upstream
        upstream: "{{ wsus_upstream }}"
    - wsusauto.wsus.wsus_replica:
        enabled: "{{ wsus_replica | default(false) }}"
  when: wsus_upstream is defined
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
"""
