# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/) runs the task on the
# controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_schedule
short_description: Set a WSUS server's synchronization schedule
description:
  - Sets whether the server synchronizes automatically (C(SynchronizeAutomatically)), the first
    synchronization's time of day (C(SynchronizeAutomaticallyTimeOfDay)) and how many a day
    (C(NumberOfSynchronizationsPerDay)); only the options given change, and only where they differ.
  - WSUS keeps the time of day in UTC. A time given with an IANA C(timezone) is converted to UTC for
    today's date, with a warning - the local time then moves by an hour when daylight saving time changes.
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options:
  automatic:
    description: Whether the server synchronizes on its schedule.
    type: bool
  time:
    description:
      - The first synchronization's time of day, C(HH:MM) or C(HH:MM:SS), in UTC unless O(timezone) says
        otherwise.
    type: str
  timezone:
    description: The IANA time zone C(time) is given in (for example C(Europe/Berlin)); requires C(time).
    type: str
  per_day:
    description: Synchronizations per day, 1 to 24.
    type: int
notes:
  - At least one of O(automatic), O(time) and O(per_day) is required.
extends_documentation_fragment:
  - wsusauto.wsus.connection
  - wsusauto.wsus.state
"""

EXAMPLES = r"""
- name: Synchronize once a day at 03:00 UTC
  wsusauto.wsus.wsus_schedule:
    automatic: true
    time: "03:00"
    per_day: 1

- name: Synchronize at 02:30 Berlin time
  wsusauto.wsus.wsus_schedule:
    automatic: true
    time: "02:30"
    timezone: Europe/Berlin
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
