# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/wsus_stagger_plan.py) runs the
# task on the controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_stagger_plan
short_description: Plan staggered synchronization times for the play's WSUS servers
description:
  - According to "Running WSUS 3.0 SP2 in Replica Mode", with many replicas on one upstream server,
    you should not schedule synchronization to run at the same time on each replica server. This
    plans one synchronization time for each of the play's servers inside O(window) so that no
    upstream server serves more than O(max_concurrent_per_upstream) synchronizations at once, even
    in the worst case (the random start offset WSUS adds, and two retries at about fifteen minutes
    after a failure), and each tier starts after its upstream's own synchronization.
  - Meant for C(run_once=true) - one plan for all the hosts (O(hosts), by default the play's), with each
    host's slot in RV(slots). A following M(wsusauto.wsus.wsus_schedule) task sets it, its
    O(wsusauto.wsus.wsus_schedule#module:time) being C("{{ plan.slots[inventory_hostname].time }}").
  - Each server's expected synchronization duration is the median of its recent synchronizations.
    They are taken from the C(wsus_facts) an earlier M(wsusauto.wsus.wsus_facts) task of the play
    left, and read over WinRM for the hosts without them. A host whose facts cannot be read is
    planned with O(default_duration) and named in a warning.
  - The intended hierarchy is the hosts' C(wsus_upstream) inventory vars, as C(wsusauto) reads them.
  - Changes nothing; the plan is the one C(wsusauto run)'s C(stagger) task makes for the same servers,
    hierarchy and facts.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  window:
    description:
      - The time of day the synchronizations may run in, C(HH:MM-HH:MM), in O(timezone), for example
        V(22:00-05:00).
      - A window that cannot hold the servers fails the task with the smallest window (and the
        smallest O(max_concurrent_per_upstream)) that would.
    type: str
    required: true
  timezone:
    description:
      - The zone O(window) is written in (an IANA name such as V(Europe/Berlin)).
      - Defaults to V(UTC). The slots are always in UTC.
    type: str
  max_concurrent_per_upstream:
    description:
      - How many synchronizations one upstream server may serve at once.
      - Defaults to V(1).
    type: int
  per_day:
    description:
      - Synchronizations per day (1 to 24); the plan repeats every 24/N hours.
      - Defaults to V(1).
    type: int
  offset:
    description:
      - The random start offset WSUS adds to a scheduled time, in minutes, worst case.
      - Defaults to V(30).
    type: int
  default_duration:
    description:
      - Minutes one synchronization is expected to take on a server with no finished synchronization
        in its history.
      - Defaults to V(30).
    type: int
  hosts:
    description:
      - The hosts to plan, by inventory name.
      - Defaults to the play's hosts (C(ansible_play_hosts)).
    type: list
    elements: str
  forks:
    description:
      - How many servers' facts are read at once, for the hosts without C(wsus_facts).
    type: int
    default: 20
attributes:
  check_mode:
    support: full
    description: Plans in check mode as in a normal run (it changes nothing either way).
  diff_mode:
    support: none
    description: A plan changes nothing; M(wsusauto.wsus.wsus_schedule) shows the schedules' diff.
notes:
  - The plan covers the hosts it is given. A run with C(--limit), or a sliced AWX job (job slicing
    gives each slice a part of the inventory), sees only its part and plans it without the other
    servers' synchronizations on a shared upstream server. Plan in a job that is not sliced and not
    limited, or give O(hosts) (for example C("{{ groups['wsus'] }}")).
  - Without C(run_once=true) every host computes the same plan again (and reads the facts it lacks
    again); the task warns.
  - The other servers are reached with their inventory vars (host and group vars, as C(hostvars) gives
    them).
extends_documentation_fragment:
  - wsusauto.wsus.connection
seealso:
  - module: wsusauto.wsus.wsus_schedule
  - module: wsusauto.wsus.wsus_facts
"""

EXAMPLES = r"""
- name: Stagger the synchronization schedules
  hosts: wsus
  gather_facts: false
  tasks:
    - name: Read each server's facts (its recent sync durations)
      wsusauto.wsus.wsus_facts:

    - name: Plan one time per server in the night window
      wsusauto.wsus.wsus_stagger_plan:
        window: "22:00-05:00"
        timezone: Europe/Berlin
        max_concurrent_per_upstream: 2
      run_once: true
      register: plan

    - name: Set each server's schedule to its slot
      wsusauto.wsus.wsus_schedule:
        automatic: true
        time: "{{ plan.slots[inventory_hostname].time }}"
        per_day: "{{ plan.slots[inventory_hostname].per_day }}"
"""

RETURN = r"""
slots:
  description: Each planned host's slot, by inventory name.
  returned: success
  type: dict
  contains:
    time:
      description:
        - The synchronization's time of day, C(HH:MM:SS) in UTC (what M(wsusauto.wsus.wsus_schedule)
          takes).
      type: str
    per_day:
      description: Synchronizations per day.
      type: int
    upstream:
      description:
        - The planned host the plan spaced this server's synchronizations at (null for a root of the
          plan).
      type: str
    duration_minutes:
      description: The synchronization duration the plan counted.
      type: float
    facts_from:
      description: Where the duration came from - C(wsus_facts), C(read) (over WinRM) or C(default).
      type: str
  sample:
    wsus-root: {time: "21:00:00", per_day: 1, upstream: null, duration_minutes: 40.0, facts_from: read}
    wsus-eu: {time: "23:15:00", per_day: 1, upstream: wsus-root, duration_minutes: 12.5, facts_from: read}
msg:
  description: Each host's time, in one line.
  returned: always
  type: str
"""
