"""The collection's AWX credential type (collection/docs/awx-credential-type.yml) injected into a
job as AWX injects a custom credential (``CredentialType.inject_credential`` in AWX's
awx/main/models/credential.py): inputs left empty are left out of the template namespace (so they
render as empty text), each file injector is rendered and written as text into the job's private
directory (``env/``), and ``tower.filename.<name>`` names that file in the env and extra_vars
templates, all rendered by Jinja's immutable sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

CREDENTIAL_TYPE = Path(__file__).resolve().parents[1] / "collection" / "docs" / "awx-credential-type.yml"


class Namespace:
    """AWX's ``tower`` and ``tower.filename`` objects: attributes set as the files are written."""


@dataclass(frozen=True)
class Injected:
    env: dict[str, str]
    extra_vars: dict[str, str]
    files: dict[str, Path]  # file injector name -> the file written


def load_credential_type() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CREDENTIAL_TYPE.read_text(encoding="utf-8"))
    return loaded


def inject(credential_type: dict[str, Any], inputs: dict[str, str], private_dir: Path) -> Injected:
    namespace: dict[str, Any] = {k: v for k, v in inputs.items() if len(v)}
    tower = namespace["tower"] = Namespace()
    tower.filename = Namespace()  # type: ignore[attr-defined]
    render = ImmutableSandboxedEnvironment(undefined=Undefined)
    injectors = credential_type["injectors"]
    files = {}
    for n, (label, template) in enumerate(injectors.get("file", {}).items()):
        path = private_dir / "env" / f"tmp{n}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render.from_string(template).render(**namespace), encoding="utf-8")
        path.chmod(0o600)
        name = label.split(".", 1)[1]
        setattr(tower.filename, name, str(path))
        files[name] = path
    env = {k: render.from_string(v).render(**namespace) for k, v in injectors.get("env", {}).items()}
    extra = {k: render.from_string(v).render(**namespace) for k, v in injectors.get("extra_vars", {}).items()}
    return Injected(env, extra, files)
