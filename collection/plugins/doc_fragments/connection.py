# Copyright: wsusauto developers
# MIT License (see the collection's galaxy.yml)
"""What every wsusauto.wsus module shares: how it reaches the WSUS server."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: windows
    description: Windows servers running WSUS 3.0 SP2 or later, reached over WinRM.
requirements:
  - the Python package wsusauto on the Ansible controller or in the execution environment (the
    collection's requirements.txt)
notes:
  - Runs on the Ansible controller as an action plugin and reaches the WSUS server over WinRM (PSRP)
    with the wsusauto library; nothing is copied to the Windows server, and Ansible's own connection
    to the host is not opened.
  - The connection comes from the host's usual inventory vars, as the C(psrp) connection reads them,
    so an inventory made for C(ansible_connection=psrp) works unchanged - C(ansible_host),
    C(ansible_port), C(ansible_user), C(ansible_password) (or C(ansible_psrp_password), C(ansible_pass),
    C(ansible_winrm_pass), C(ansible_winrm_password)) and the C(ansible_psrp_*) options (C(protocol),
    C(auth), C(cert_validation), C(ca_cert), C(message_encryption), timeouts, the C(negotiate_*) options).
  - Besides a password var, a password may come from C(wsusauto_password_env) (an environment variable's
    name on the controller), C(wsusauto_password_file), or C(ansible-playbook -k) when no var names one.
    A Kerberos login may use the ticket cache or a keytab instead.
  - C(wsus_busy_wait) (seconds, default 180) is how long a change waits for WSUS to be free (a
    synchronization running, a configuration save processing) before the task fails as busy, with
    C(retryable=true) and nothing changed.
  - A server that does not answer, or refuses the credentials, is unreachable, as with Ansible's own
    connections.
"""
