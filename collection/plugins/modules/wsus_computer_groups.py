# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/) runs the task on the
# controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_computer_groups
short_description: Put computers into a WSUS computer group, move them, or take them out
description:
  - With O(state=present), the computers join O(group); with O(from_group) they also leave that group
    (a move). With O(state=absent) they leave O(group). Computers are named as WSUS knows them
    (C(FullDomainName), case-insensitive) and must have reported to the server.
  - The one administration a replica allows ("Running WSUS 3.0 SP2 in Replica Mode") - on a replica the
    group must exist (it is inherited from the upstream server); O(create=true) is refused there.
  - WSUS keeps All Computers and Unassigned Computers itself; neither can be named.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  group:
    description: The computer group.
    type: str
    required: true
  computers:
    description: The computers, by their full domain names.
    type: list
    elements: str
    required: true
  state:
    description: Whether the computers are in O(group) (V(present)) or not (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  from_group:
    description: With O(state=present), the group the computers leave (a move).
    type: str
  create:
    description: Create O(group) when it does not exist (never on a replica).
    type: bool
extends_documentation_fragment:
  - wsusauto.wsus.connection
  - wsusauto.wsus.state
"""

EXAMPLES = r"""
- name: Move two pilot machines into the Pilot group
  wsusauto.wsus.wsus_computer_groups:
    group: Pilot
    computers: [pc-001.corp.example, pc-002.corp.example]
    from_group: Workstations
    create: true
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
