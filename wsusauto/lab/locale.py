"""Localized Windows: what a lab server shows in its language, and what stays the same everywhere.

A German or French Windows names its well-known accounts, services and WSUS's built-in computer
groups in its own language (``NT-AUTORITÄT\\NETZWERKDIENST``, ``Alle Computer``), and writes event
messages in it. SIDs, service names, group ids, event ids and enumeration values do not change. The
lab keeps its state language-neutral (accounts by SID or as given, the built-in groups under fixed
keys) and translates where Windows would show text.
"""

from __future__ import annotations

import hashlib
import uuid

from wsusauto.errors import UsageError

LOCALES = ("en-US", "de-DE", "fr-FR")
DEFAULT_LOCALE = "en-US"

# Well-known SIDs and their account names (SecurityIdentifier.Translate(NTAccount)) per locale.
ACCOUNTS: dict[str, dict[str, str]] = {
    "S-1-5-18": {
        "en-US": "NT AUTHORITY\\SYSTEM",
        "de-DE": "NT-AUTORITÄT\\SYSTEM",
        "fr-FR": "AUTORITE NT\\Système",
    },
    "S-1-5-19": {
        "en-US": "NT AUTHORITY\\LOCAL SERVICE",
        "de-DE": "NT-AUTORITÄT\\LOKALER DIENST",
        "fr-FR": "AUTORITE NT\\SERVICE LOCAL",
    },
    "S-1-5-20": {
        "en-US": "NT AUTHORITY\\NETWORK SERVICE",
        "de-DE": "NT-AUTORITÄT\\NETZWERKDIENST",
        "fr-FR": "AUTORITE NT\\SERVICE RÉSEAU",
    },
    "S-1-5-11": {
        "en-US": "NT AUTHORITY\\Authenticated Users",
        "de-DE": "NT-AUTORITÄT\\Authentifizierte Benutzer",
        "fr-FR": "AUTORITE NT\\Utilisateurs authentifiés",
    },
    "S-1-1-0": {"en-US": "Everyone", "de-DE": "Jeder", "fr-FR": "Tout le monde"},
    "S-1-5-32-544": {
        "en-US": "BUILTIN\\Administrators",
        "de-DE": "VORDEFINIERT\\Administratoren",
        "fr-FR": "BUILTIN\\Administrateurs",
    },
    "S-1-5-32-545": {
        "en-US": "BUILTIN\\Users",
        "de-DE": "VORDEFINIERT\\Benutzer",
        "fr-FR": "BUILTIN\\Utilisateurs",
    },
}
_SID_BY_NAME = {name.lower(): sid for sid, names in ACCOUNTS.items() for name in names.values()}

# WSUS's built-in computer groups: fixed ids, localized names. The lab stores them under the keys.
ALL_COMPUTERS = "All Computers"
UNASSIGNED_COMPUTERS = "Unassigned Computers"
BUILTIN_GROUP_IDS = {
    ALL_COMPUTERS: "a0a08746-4dbe-4a37-9adf-9e7652c0b421",
    UNASSIGNED_COMPUTERS: "b73ca6ed-5727-47f3-84de-015e03f6a88a",
}
_GROUP_NAMES = {
    ALL_COMPUTERS: {"en-US": "All Computers", "de-DE": "Alle Computer", "fr-FR": "Tous les ordinateurs"},
    UNASSIGNED_COMPUTERS: {
        "en-US": "Unassigned Computers",
        "de-DE": "Nicht zugewiesene Computer",
        "fr-FR": "Ordinateurs non attribués",
    },
}
# Custom groups get an id derived from their name, the same on every lab server (a replica's
# inherited groups keep their upstream's ids, as in WSUS).
_GROUP_NAMESPACE = uuid.UUID("5b1e3f0c-9a57-4c1e-8f43-2d6f0a7c9e11")

# Win32_Service DisplayName per locale (service names do not change).
_SERVICE_NAMES = {
    "WsusService": {"en-US": "WSUS Service", "de-DE": "WSUS-Dienst", "fr-FR": "Service WSUS"},
    "BITS": {
        "en-US": "Background Intelligent Transfer Service",
        "de-DE": "Intelligenter Hintergrundübertragungsdienst",
        "fr-FR": "Service de transfert intelligent en arrière-plan",
    },
    "W3SVC": {
        "en-US": "World Wide Web Publishing Service",
        "de-DE": "WWW-Publishingdienst",
        "fr-FR": "Service de publication World Wide Web",
    },
    "MSSQL$MICROSOFT##WID": {
        "en-US": "Windows Internal Database",
        "de-DE": "Interne Windows-Datenbank",
        "fr-FR": "Base de données interne Windows",
    },
    "MSSQL$MICROSOFT##SSEE": {
        "en-US": "Windows Internal Database (MICROSOFT##SSEE)",
        "de-DE": "Interne Windows-Datenbank (MICROSOFT##SSEE)",
        "fr-FR": "Base de données interne Windows (MICROSOFT##SSEE)",
    },
}
# WSUS 3.0 (SSEE) calls its service "Update Services".
_WSUS3_SERVICE = {"en-US": "Update Services", "de-DE": "Update Services", "fr-FR": "Update Services"}


def check_locale(value: object, where: str) -> str:
    if value not in LOCALES:
        raise UsageError(f"{where}: locale must be one of {', '.join(LOCALES)}, not {value!r}")
    return str(value)


def sid_of(identity: str) -> str:
    """The SID of an account as stored by the lab: a SID as it is, a well-known account's name in
    any of the lab's languages by its SID, any other account by a stable made-up domain SID."""
    if identity.upper().startswith("S-1-"):
        return identity.upper()
    known = _SID_BY_NAME.get(identity.lower())
    if known is not None:
        return known
    rid = int.from_bytes(hashlib.sha256(identity.lower().encode("utf-8")).digest()[:3], "big") + 1000
    return f"S-1-5-21-1004336348-1177238915-682003330-{rid}"


def account_name(identity: str, locale: str) -> str:
    """What Get-Acl shows for a stored identity on a Windows in ``locale``."""
    sid = sid_of(identity)
    if sid in ACCOUNTS:
        return ACCOUNTS[sid][locale]
    return identity if not identity.upper().startswith("S-1-") else sid


def group_name(key: str, locale: str) -> str:
    """The display name of a lab group key (built-in groups are localized)."""
    return _GROUP_NAMES[key][locale] if key in _GROUP_NAMES else key


def group_key(name: str, locale: str) -> str:
    """The lab's key of a group shown as ``name`` on a Windows in ``locale``."""
    for key, names in _GROUP_NAMES.items():
        if names[locale] == name:
            return key
    return name


def group_id(key: str) -> str:
    return BUILTIN_GROUP_IDS.get(key) or str(uuid.uuid5(_GROUP_NAMESPACE, key.lower()))


def service_display_name(service: str, locale: str, *, wsus3: bool = False) -> str:
    if service == "WsusService" and wsus3:
        return _WSUS3_SERVICE[locale]
    names = _SERVICE_NAMES.get(service)
    return names[locale] if names else service


_STATE_WORDS = {
    "en-US": {"Running": "running", "Stopped": "stopped"},
    "de-DE": {"Running": "Wird ausgeführt", "Stopped": "Beendet"},
    "fr-FR": {"Running": "En cours d'exécution", "Stopped": "Arrêté"},
}
_START_TYPE_WORDS = {
    "en-US": {"Auto": "auto start", "Manual": "demand start", "Disabled": "disabled"},
    "de-DE": {"Auto": "Automatisch starten", "Manual": "Manuell starten", "Disabled": "Deaktiviert"},
    "fr-FR": {"Auto": "Démarrage automatique", "Manual": "Démarrage à la demande", "Disabled": "Désactivé"},
}


_PROXY_407 = {
    "en-US": "The remote server returned an error: (407) Proxy Authentication Required.",
    "de-DE": "Der Remoteserver hat einen Fehler zurückgegeben: (407) Proxyauthentifizierung erforderlich.",
    "fr-FR": "Le serveur distant a retourné une erreur : (407) Authentification proxy requise.",
}


def proxy_407_text(locale: str) -> str:
    """.NET's WebException text for a proxy that refuses the credentials, as ErrorText shows it."""
    return _PROXY_407[locale]


def service_state_message(display: str, state: str, locale: str) -> str:
    """The Service Control Manager's event 7036."""
    word = _STATE_WORDS[locale].get(state, state)
    if locale == "de-DE":
        return f'Der Dienst "{display}" befindet sich jetzt im Status "{word}".'
    if locale == "fr-FR":
        return f"Le service {display} est entré dans l'état : {word}."
    return f"The {display} service entered the {word} state."


def start_type_message(display: str, before: str, after: str, locale: str) -> str:
    """The Service Control Manager's event 7040."""
    words = _START_TYPE_WORDS[locale]
    old, new = words.get(before, before), words.get(after, after)
    if locale == "de-DE":
        return f'Der Starttyp des Diensts "{display}" wurde von "{old}" in "{new}" geändert.'
    if locale == "fr-FR":
        return f"Le type de démarrage du service {display} a été modifié de {old} à {new}."
    return f"The start type of the {display} service was changed from {old} to {new}."
