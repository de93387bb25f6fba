"""Exit codes, matching ansible-playbook's so schedulers and wrappers read both the same way."""

OK = 0
USAGE = 1  # bad options, a wrong inventory, topology or playbook: nothing ran
HOST_FAILED = 2  # one or more hosts failed
HOST_UNREACHABLE = 4  # one or more hosts unreachable (wins over failed, as in Ansible)
UNEXPECTED = 250  # a bug: an error wsusauto did not expect (Ansible uses 250 too)
INTERRUPTED = 99  # stopped by the user (Ctrl+C)
