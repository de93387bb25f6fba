"""Stands in for PyPA's get-pip.py, which ansible-test downloads from its own file server to put pip
into each sanity test's new virtual environment. This machine reaches the package index (PyPI) and
nothing else, so ``test_sanity.py`` saves this file where ansible-test keeps the download
(``~/.ansible/test/cache/get_pip_<version>.py``; ansible-test's error says to save the script
there by hand when its download fails).

ansible-test runs it inside the new environment as get-pip.py is run: the arguments are pip's
(``pip==<version>`` and the packages to install) plus get-pip's own ``--no-setuptools`` and
``--no-wheel``. This puts Python's bundled pip in with ``ensurepip`` and then lets that pip install
the requested versions from the index, with the machine's pip configuration (ensurepip turns it off
for its own install, in this process's environment, hence the copy taken first).
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel", "--no-pip"}

if __name__ == "__main__":
    environment = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    arguments = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment))
