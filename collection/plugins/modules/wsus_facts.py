# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
# Documentation only: the action plugin of the same name (plugins/action/wsus_facts.py) runs the task
# on the controller; nothing is copied to the Windows server.

from __future__ import annotations

DOCUMENTATION = r"""
module: wsus_facts
short_description: Read a WSUS server's configuration and state as facts
description:
  - Reads the WSUS server's configuration (update source, replica mode, proxy, schedule, storage),
    its synchronization status and history, computer groups, services, content directory and database,
    and returns them as the fact C(wsus_facts) - read it as C(ansible_facts.wsus_facts), or another
    host's as C(hostvars[host].ansible_facts.wsus_facts); the same name at the top level is Ansible's
    C(INJECT_FACTS_AS_VARS), which ansible-core means to deprecate.
  - Changes nothing; runs in check mode too, where it shows the server as the host's earlier
    check-mode tasks of the play would leave it (as C(wsusauto run --check) does).
version_added: 0.1.0
author:
  - wsusauto developers (!UNKNOWN)
options: {}
attributes:
  check_mode:
    support: full
    description: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
extends_documentation_fragment:
  - wsusauto.wsus.connection
seealso:
  - module: wsusauto.wsus.wsus_update_source
  - module: wsusauto.wsus.wsus_replica
"""

EXAMPLES = r"""
- name: Read the WSUS servers' facts
  wsusauto.wsus.wsus_facts:

- name: Show where each server synchronizes from
  ansible.builtin.debug:
    msg: >-
      {{ inventory_hostname }}:
      {{ 'Microsoft Update' if ansible_facts.wsus_facts.sync_from_microsoft_update
         else ansible_facts.wsus_facts.upstream_wsus_server_name }}
      (replica: {{ ansible_facts.wsus_facts.is_replica_server }})
"""

RETURN = r"""
ansible_facts:
  description: The server's facts.
  returned: success
  type: dict
  contains:
    wsus_facts:
      description:
        - The WSUS server's configuration and state, named after the WSUS API's members in snake case
          (C(sync_from_microsoft_update), C(upstream_wsus_server_name), C(is_replica_server),
          C(use_proxy), C(synchronize_automatically_time_of_day) in UTC, C(computer_target_groups), ...).
        - Times are ISO 8601 in UTC. The proxy password is never read; C(has_proxy_password) says
          whether one is set.
      returned: success
      type: dict
      sample:
        host: wsus-root
        version: 10.0.17763.678
        sync_from_microsoft_update: true
        upstream_wsus_server_name: ""
        upstream_wsus_server_port_number: 8530
        is_replica_server: false
        use_proxy: false
        has_proxy_password: false
        synchronize_automatically: true
        synchronize_automatically_time_of_day: "03:00:00"
        number_of_synchronizations_per_day: 1
        synchronization_status: NotProcessing
"""
