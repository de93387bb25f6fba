# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""What the wsusauto.wsus modules that set WSUS settings share: check mode and diff, as
C(wsusauto run --check --diff) has them."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    support: full
    description:
      - Plans the same changes as C(wsusauto run --check), on the state the host's earlier check-mode
        tasks of the play would leave; changes nothing.
  diff_mode:
    support: full
    description: The changed WSUS API members, before and after.
"""
