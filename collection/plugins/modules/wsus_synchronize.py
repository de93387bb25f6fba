# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/wsus_synchronize.py) runs the
# task on the controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_synchronize
short_description: Synchronize a WSUS server and wait for it, under the documented retry policy
description:
  - Starts a synchronization of the WSUS server from its update source (Microsoft Update or its
    upstream server) and waits until it ends, polling its status and progress. A synchronization
    already running is joined. Only a synchronization newer than the one before the start counts,
    never the previous one's result.
  - A failed synchronization follows the documented policy ("Running WSUS 3.0 SP2 in Replica Mode",
    "Issues with Synchronization") - a cause that can pass (the upstream unreachable or busy, a
    timeout, updates the upstream is still downloading) is retried twice at about fifteen-minute
    intervals (O(retry_interval)); then the server waits for its next scheduled time, which the
    message names. A cause retrying cannot fix (authentication, proxy credentials, incompatible
    versions, configuration) fails at once with the reason.
  - Every attempt is in the result under RV(attempts). A task whose synchronization still failed
    after the retries is failed, with its attempts and what explains the failure in RV(msg).
  - When the server's upstream (C(wsus_upstream)) is a host of the play and an earlier
    M(wsusauto.wsus.wsus_facts) task read its facts, a synchronization that fails between servers
    storing updates differently fails at once with that cause ("Synchronization issues" - the
    entire hierarchy must use the same update storage option), as C(wsusauto run) does.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  timeout:
    description:
      - How long one attempt may run, as a duration (C(30s), C(15m), C(2h)).
      - Defaults to C(2h).
    type: str
  start_timeout:
    description:
      - How long a started synchronization may take to show as running before the attempt fails
        (WSUS starts it a moment after the call returns).
      - Defaults to C(5m).
    type: str
  poll_interval:
    description:
      - How often the synchronization's status is read while it runs.
      - Defaults to C(30s).
    type: str
  retry_interval:
    description:
      - The wait before each of the two retries of a failed synchronization.
      - Defaults to the documented fifteen minutes (with a little jitter, "approximately"). Shorter
        only for a lab or a test.
    type: str
  category_only:
    description:
      - Synchronize the categories (products and classifications) only, not the updates.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports that it would synchronize (changed), and starts nothing.
  diff_mode:
    support: none
    description: A synchronization is an action, not a state; there is no diff.
notes:
  - Do not put Ansible's own C(retries)/C(until) on this task; the documented policy
    is already inside it, and Ansible would replace RV(attempts) with its own count.
  - Ansible runs each host in a worker process of its own, so wsusauto's limit of synchronizations
    per upstream server at a time (C(max_concurrent_per_upstream), held across a C(wsusauto run))
    cannot hold across hosts here. Use C(serial) (one region, or a few servers, at a time) and one
    play per tier (the roots first, then their downstream servers) for that.
  - The task runs until the synchronization ends; with the documented retries that can take more than
    half an hour. Ansible's task keyword C(timeout) ends it early; the synchronization goes on on the
    server.
extends_documentation_fragment:
  - wsusauto.wsus.connection
seealso:
  - module: wsusauto.wsus.wsus_facts
  - module: wsusauto.wsus.wsus_diagnose
"""

EXAMPLES = r"""
- name: Read the facts first (the upstream's storage option makes a mismatch fail at once)
  wsusauto.wsus.wsus_facts:

- name: Synchronize each server and wait for it
  wsusauto.wsus.wsus_synchronize:
  register: sync

- name: Show how many attempts each synchronization took
  ansible.builtin.debug:
    msg: "{{ sync.attempts | length }} attempt(s), the last {{ sync.attempts[-1].result }}"

# Region by region: the upstream servers of a region are not loaded by every replica at once.
- name: Synchronize the replicas, one region at a time
  hosts: wsus_replicas
  serial: 1
  gather_facts: false
  tasks:
    - name: Synchronize
      wsusauto.wsus.wsus_synchronize:
        poll_interval: 15s
"""

RETURN = r"""
attempts:
  description:
    - Every synchronization attempt, in order (the first try, then at most two retries).
  returned: when the synchronization was started
  type: list
  elements: dict
  contains:
    attempt:
      description: The attempt's number, 1 for the first try.
      type: int
    started:
      description: When the attempt started, ISO 8601 in UTC.
      type: str
    ended:
      description: When the attempt ended, ISO 8601 in UTC.
      type: str
    result:
      description: C(Succeeded) or C(Failed).
      type: str
    error:
      description: The WSUS SynchronizationError name (C(NotApplicable) when it succeeded).
      type: str
    error_text:
      description: The server's error text.
      type: str
    synchronization_id:
      description: The server's id of this attempt's synchronization.
      type: str
  sample:
    - {attempt: 1, result: Failed, error: UssNotFound, error_text: "upstream not found",
       started: "2026-11-30T03:00:05Z", ended: "2026-11-30T03:00:40Z", synchronization_id: "7c1d..."}
    - {attempt: 2, result: Succeeded, error: NotApplicable, error_text: "",
       started: "2026-11-30T03:15:41Z", ended: "2026-11-30T03:21:02Z", synchronization_id: "9a2e..."}
progress_samples:
  description: How many progress readings were taken while the synchronizations ran.
  returned: when the synchronization was started
  type: int
last_progress:
  description: The last progress reading (items processed, total, phase).
  returned: when the synchronization was started
  type: dict
next_synchronization_time:
  description: When the server tries again by itself (its schedule), after a failure that can pass.
  returned: when the synchronization failed after its retries
  type: str
explained_by:
  description:
    - The findings of the server's own checks that explain the failure (as
      M(wsusauto.wsus.wsus_diagnose) gives them).
  returned: when the synchronization failed
  type: list
  elements: dict
msg:
  description: What happened; for a failure, the error, why no further attempt was made, when the
    server tries again and what explains it or what to check.
  returned: always
  type: str
"""
