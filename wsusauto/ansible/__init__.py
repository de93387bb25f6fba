"""What the Ansible collection ``wsusauto.wsus`` (``collection/``) needs of wsusauto, in plain Python.

The collection's action plugins run on the Ansible controller and stay thin: everything that is
not Ansible's own API lives here and imports nothing of Ansible, so it is tested in wsusauto's own
suite and the plugins and the ``wsusauto`` command share one behaviour (the same plans in check
mode, the same verdicts, the same secrets kept out of output).
"""
