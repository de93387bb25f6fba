"""The lab's Microsoft Update catalog: deterministic updates with product, classification, language
and file size, so a root's sync imports a believable set (filtered by its enabled languages)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

PRODUCTS = (
    "Windows Server 2019",
    "Windows Server 2022",
    "Windows 10",
    "Windows 11",
    "Microsoft Defender Antivirus",
)
CLASSIFICATIONS = ("Security Updates", "Critical Updates", "Updates", "Definition Updates", "Update Rollups")
LANGUAGES = ("en", "de", "fr", "ja", "all")  # "all": language-neutral (most updates)


@dataclass(frozen=True)
class CatalogUpdate:
    id: str
    title: str
    product: str
    classification: str
    language: str
    size_bytes: int


@lru_cache(maxsize=1)
def catalog(size: int = 300) -> tuple[CatalogUpdate, ...]:
    updates = []
    for number in range(size):
        product = PRODUCTS[number % len(PRODUCTS)]
        classification = CLASSIFICATIONS[(number // 3) % len(CLASSIFICATIONS)]
        language = LANGUAGES[4] if number % 5 else LANGUAGES[(number // 5) % 4]
        updates.append(
            CatalogUpdate(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"wsusauto-lab-update-{number}")),
                title=f"{classification[:-1]} for {product} (KB{5_000_000 + number})",
                product=product,
                classification=classification,
                language=language,
                size_bytes=1_048_576 * (1 + (number * 37) % 900),
            )
        )
    return tuple(updates)


def updates_for(languages: list[str] | None) -> list[CatalogUpdate]:
    """What a server with these enabled languages imports (None: all languages)."""
    if languages is None:
        return list(catalog())
    wanted = set(languages) | {"all"}
    return [u for u in catalog() if u.language in wanted]
