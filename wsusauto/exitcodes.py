"""Exit codes, matching ansible-playbook's so schedulers and wrappers read both the same way."""

OK = 0
ERROR = 1                 # an unexpected error
HOST_FAILED = 2           # one or more hosts failed
HOST_UNREACHABLE = 4      # one or more hosts unreachable (and none failed)
USAGE = 5                 # bad or incomplete options, a wrong inventory or playbook: nothing ran
INTERRUPTED = 99          # stopped by the user (Ctrl+C)
