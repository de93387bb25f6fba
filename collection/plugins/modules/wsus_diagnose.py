# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/wsus_diagnose.py) runs the
# task on the controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_diagnose
short_description: Run the documented WSUS troubleshooting checks, and apply the documented fixes
description:
  - Runs wsusauto's troubleshooting checks (those of C(wsusauto diagnose)) for the host and returns its
    findings, each with its evidence, the remedy and the Microsoft document it comes from
    ("Issues with Synchronization", "Synchronization issues", "Running WSUS 3.0 SP2 in Replica Mode").
  - The checks compare a server with others (its storage option, version and languages with its
    upstream server's, a replica's approved updates with its parent's, the schedules of the servers
    that synchronize from it), so the host is diagnosed together with those servers, taken from the
    play's hosts (their inventory vars). See O(scope).
  - The task fails when the host has an error or a warning finding (as C(wsusauto diagnose) exits 2),
    so the recap says which servers need attention; info findings alone do not fail it. A host that
    does not answer, or refuses the credentials, is unreachable.
  - With O(fix=true), the documented fixes the host's findings name (BITS service, BITS foreground
    downloads, content folder permissions, each ending with a synchronization; resuming the failed
    downloads, which does not synchronize) run on this host, then it is diagnosed again; each finding
    says whether it is resolved. The task is changed when a fix changed the server, and failed when a
    fix failed or an error or warning remains.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  fix:
    description:
      - Apply the documented fixes the host's findings name, then diagnose it again.
    type: bool
    default: false
  scope:
    description:
      - Which of the play's hosts are read with this one.
      - V(neighbours) reads the host, its upstream (as the inventory's C(wsus_upstream) intends and as
        the server is configured) and the servers that synchronize from it (intended, and configured
        as far as the play's M(wsusauto.wsus.wsus_facts) facts show) - a few servers per task.
      - V(play) reads every host of the play, as C(wsusauto diagnose) does; the same findings whatever
        facts the play read, at the cost of every task reading every server.
    type: str
    choices: [neighbours, play]
    default: neighbours
  max_concurrent_per_upstream:
    description:
      - How many synchronizations one upstream server may serve at once; the schedule-collisions check
        compares the downstream servers' schedules with it.
    type: int
    default: 1
  poll_interval:
    description:
      - With O(fix=true), how often the synchronization that ends a fix is polled (a duration such as
        V(30s)).
      - Defaults to V(30s).
    type: str
attributes:
  check_mode:
    support: full
    description: The diagnosis reads only; with O(fix=true) the fixes report what they would change
      (changed) and change nothing.
  diff_mode:
    support: none
    description: The findings and each fix's result are the report; there is no diff.
notes:
  - The other servers are reached with their inventory vars (host and group vars, as C(hostvars) gives
    them); play vars apply to the task's own host only.
  - A server the checks would compare this one with that could not be read is named in a warning;
    those checks did not run.
  - Each host's task reads the inventory vars of the play's hosts on the controller (to find the
    servers that synchronize from it), about a millisecond a host; with O(scope=play) it also
    diagnoses every one of them over WinRM.
  - A host's fixes of BITS and of the content folder end with a synchronization from its upstream
    server. Ansible runs hosts in worker processes of their own, so the limit of syncs per upstream
    at a time does not hold across hosts; use C(serial) or C(throttle) with O(fix=true) on many
    replicas of one upstream.
extends_documentation_fragment:
  - wsusauto.wsus.connection
seealso:
  - module: wsusauto.wsus.wsus_facts
  - module: wsusauto.wsus.wsus_synchronize
"""

EXAMPLES = r"""
- name: Diagnose every server (fails on the servers that need attention)
  wsusauto.wsus.wsus_diagnose:
  register: diagnosis
  ignore_errors: true

- name: Show the findings
  ansible.builtin.debug:
    msg: "{{ diagnosis.findings | map(attribute='title') | list }}"

- name: Apply the documented fixes, then diagnose again
  wsusauto.wsus.wsus_diagnose:
    fix: true
  throttle: 2
"""

RETURN = r"""
findings:
  description:
    - The host's findings, as C(wsusauto diagnose --json) gives them.
    - With O(fix=true), the findings first seen, each with RV(findings[].fix_result) and
      RV(findings[].resolved), then any finding new since the fixes (RV(findings[].new)).
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check's stable id, for example C(bits-service) or C(storage-option-consistency).
      type: str
    severity:
      description: C(error), C(warning) or C(info).
      type: str
    title:
      description: What was found, in one line.
      type: str
    evidence:
      description: What was seen, where.
      type: dict
    remedy:
      description: What to do, quoting or citing Microsoft's document.
      type: str
    source:
      description: The document (by title) and section the remedy comes from.
      type: str
    fix:
      description: The wsusauto operation that applies the documented fix, if there is one.
      type: str
    fix_result:
      description: With O(fix=true), the fix's operation, status and message.
      type: dict
    resolved:
      description: With O(fix=true), whether the finding is gone when diagnosed again (null in check mode).
      type: bool
    new:
      description: With O(fix=true), true for a finding first seen after the fixes.
      type: bool
  sample:
    - check: bits-service
      severity: error
      title: the BITS service is disabled
      evidence: {start_mode: Disabled, state: Stopped}
      remedy: Set the BITS service's startup type to Manual, then restart BITS and the WSUS service.
      source: "Issues with Synchronization (TechNet cc708514, WSUS 3.0 SP2): ..."
      fix: bits_service
fixes:
  description: With O(fix=true), each fix run on the host.
  returned: when fixes ran
  type: list
  elements: dict
  contains:
    operation:
      description: The fix's operation.
      type: str
    checks:
      description: The findings' checks it answers.
      type: list
      elements: str
    status:
      description: C(changed), C(ok), C(would change) (check mode), C(failed) or C(unreachable).
      type: str
    message:
      description: What the fix did.
      type: str
diagnosed_with:
  description: The other servers read to diagnose this one.
  returned: always
  type: list
  elements: str
msg:
  description: The findings in one line, or C(no findings).
  returned: always
  type: str
"""
