"""wsusauto.ansible.controller: the caches a Session reads, filled before Ansible forks its workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wsusauto.ansible.controller import prepare_controller
from wsusauto.client import http_headers
from wsusauto.client.snippets import registry
from wsusauto.client.speedups import CHECKED_AGAINST, version_checked

ROOT = Path(__file__).resolve().parents[2]


def test_fills_the_snippet_and_version_caches_a_session_reads():
    registry.cache_clear()
    version_checked.cache_clear()
    http_headers.agrees_with_this_python.cache_clear()
    prepare_controller()
    assert registry.cache_info().currsize == 1
    assert version_checked.cache_info().currsize == len(CHECKED_AGAINST)
    assert http_headers.agrees_with_this_python.cache_info().currsize == 1
    prepare_controller()  # idempotent: served from the caches
    assert registry.cache_info().misses == 1
    assert version_checked.cache_info().misses == len(CHECKED_AGAINST)
    assert http_headers.agrees_with_this_python.cache_info().misses == 1


def test_patches_nothing_in_the_controller_process():
    # A fresh interpreter: in this one, an earlier test's Session may have installed them already.
    code = (
        "import http.client, spnego._ntlm as ntlm\n"
        "before = (http.client.parse_headers, ntlm.lmowfv1, ntlm.ntowfv1)\n"
        "from wsusauto.ansible.controller import prepare_controller\n"
        "prepare_controller()\n"
        "assert (http.client.parse_headers, ntlm.lmowfv1, ntlm.ntowfv1) == before\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
