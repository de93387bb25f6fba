"""The proxy check: credentials missing or rejected, and the cleartext basic-authentication option."""

from __future__ import annotations

from wsusauto.checks.base import DOC_ISSUES_WITH_SYNCHRONIZATION, Check, Finding, Fleet, HostEvidence
from wsusauto.sync_retry import proxy_rejected_credentials


def _proxy_settings(evidence: HostEvidence, fleet: Fleet) -> list[Finding]:
    facts = evidence.facts
    findings = []
    settings = {
        "use_proxy": facts.use_proxy,
        "proxy": f"{facts.proxy_name}:{facts.proxy_server_port}" if facts.proxy_name else "",
        "anonymous": facts.anonymous_proxy_access,
        "user": f"{facts.proxy_user_domain}\\{facts.proxy_user_name}".lstrip("\\"),
        "has_password": facts.has_proxy_password,
        "allow_basic_auth_cleartext": facts.allow_proxy_credentials_over_non_ssl,
    }
    authenticating = facts.use_proxy and not facts.anonymous_proxy_access
    if authenticating and (not facts.proxy_user_name or not facts.has_proxy_password):
        missing = [
            w
            for w, ok in (("user name", facts.proxy_user_name), ("password", facts.has_proxy_password))
            if not ok
        ]
        findings.append(
            PROXY_SETTINGS.finding(
                evidence,
                "error",
                f"the proxy needs credentials, but the {' and '.join(missing)} is not set",
                settings,
                "If your proxy server supports authentication, make sure you have the correct user name, "
                "password, and domain (playbooks/set-proxy.yml with the password from an environment "
                "variable or a file).",
            )
        )
    last = facts.last_synchronization_info
    if (
        last is not None
        and last.result == "Failed"
        and last.error == "ProxyError"
        and proxy_rejected_credentials(last.error_text)
    ):
        findings.append(
            PROXY_SETTINGS.finding(
                evidence,
                "error",
                "the proxy rejected this server's credentials",
                {**settings, "sync_error": last.error, "sync_error_text": last.error_text},
                "One major cause of synchronization failure is an expired password on the proxy server: "
                "make sure the user name and password for the proxy server are up to date, then set the "
                "new password (playbooks/set-proxy.yml, update_password: always).",
            )
        )
    if facts.allow_proxy_credentials_over_non_ssl:
        findings.append(
            PROXY_SETTINGS.finding(
                evidence,
                "warning",
                "'Allow basic authentication (password in cleartext)' is on",
                settings,
                "With this option the proxy account's password is sent over the network in unencrypted "
                "text. Turn it off unless the proxy accepts nothing else (playbooks/set-proxy.yml sets it "
                "only with allow_cleartext_proxy_password: true).",
            )
        )
    return findings


PROXY_SETTINGS = Check(
    "proxy-settings",
    "Proxy credentials missing or rejected; the cleartext basic-authentication option",
    f"{DOC_ISSUES_WITH_SYNCHRONIZATION}: Check proxy server settings by using the WSUS console",
    _proxy_settings,
    explains=frozenset({"ProxyError"}),
)
