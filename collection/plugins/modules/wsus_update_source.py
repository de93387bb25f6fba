# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/) runs the task on the
# controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_update_source
short_description: Make a WSUS server synchronize from Microsoft Update or from an upstream WSUS server
description:
  - Sets where the WSUS server synchronizes from - Microsoft Update, or an upstream WSUS server with its
    port and SSL (the API's C(SyncFromMicrosoftUpdate), C(UpstreamWsusServerName),
    C(UpstreamWsusServerPortNumber), C(UpstreamWsusServerUseSsl)).
  - Only the members named change, and only where they differ; the replica mode is left as it is.
  - A replica cannot be switched to Microsoft Update - release it first with M(wsusauto.wsus.wsus_replica)
    (C(enabled=false)), as "Running WSUS 3.0 SP2 in Replica Mode" says; the task refuses and changes nothing.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  source:
    description: Where the server synchronizes from.
    type: str
    required: true
    choices: [microsoft_update, upstream]
  upstream:
    description:
      - The upstream WSUS server's name or address, as the server reaches it. Required with
        O(source=upstream).
    type: str
  port:
    description:
      - The upstream server's port (WSUS uses 8530, or 8531 with SSL). Left as it is when not given.
    type: int
  ssl:
    description: Whether the server talks to its upstream over SSL. Left as it is when not given.
    type: bool
extends_documentation_fragment:
  - wsusauto.wsus.connection
  - wsusauto.wsus.state
seealso:
  - module: wsusauto.wsus.wsus_replica
"""

EXAMPLES = r"""
- name: Synchronize from the upstream server the inventory names
  wsusauto.wsus.wsus_update_source:
    source: upstream
    upstream: "{{ wsus_upstream }}"
    port: 8530
    ssl: false
  when: wsus_upstream is defined

- name: The root synchronizes from Microsoft Update
  wsusauto.wsus.wsus_update_source:
    source: microsoft_update
  when: wsus_upstream is not defined
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
