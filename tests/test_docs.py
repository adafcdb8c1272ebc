"""docs/ documents every config key: each key a settings model accepts, and each key config.toml uses."""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import handlers  # noqa: F401  (registers the feature sections)
from bot.config import SECTIONS, Settings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "config.md"


def _model(t: Any) -> type[BaseModel] | None:
    """The settings model a field's type holds (through Annotated, list[...] and unions), if any."""
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _model(typing.get_args(t)[0])
    if origin in (list, tuple, typing.Union, types.UnionType):
        for arg in typing.get_args(t):
            if (found := _model(arg)) is not None:
                return found
        return None
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _keys(model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}"
        out.append(key)
        if (sub := _model(field.annotation)) is not None:
            out += _keys(sub, key)
    return out


def model_keys() -> list[str]:
    keys = []
    for name, field in Settings.model_fields.items():
        sub = _model(field.annotation)
        assert sub is not None, name
        keys += _keys(sub, name)
    for name, spec in SECTIONS.items():
        keys += _keys(spec.model, name)
    return sorted(set(keys))


def documented() -> set[str]:
    return set(re.findall(r"^\| `([a-z_.<>\u4e00-\u9fff]+)` \|", DOC.read_text(encoding="utf-8"), re.M))


def _flatten(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict):
        out = [prefix] if prefix else []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else k)
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [prefix] + [k for v in value for k in _flatten(v, prefix)[1:]]
    return [prefix]


def test_every_key_the_settings_accept_is_documented() -> None:
    missing = [k for k in model_keys() if k not in documented()]
    assert not missing, f"add these keys to docs/config.md: {missing}"


def test_every_documented_key_exists() -> None:
    known = set(model_keys()) | {"campaigns.<节>.<键>"}
    stale = sorted(documented() - known)
    assert not stale, f"docs/config.md lists keys no settings model accepts: {stale}"


def test_every_key_in_the_example_config_is_documented() -> None:
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    overridable = {s.name for s in SECTIONS.values() if s.campaign}
    keys = set()
    for key in _flatten(data, ""):
        parts = key.split(".")
        if parts[0] == "campaigns" and len(parts) > 2 and parts[1] in overridable:
            keys.add(".".join(parts[1:]))  # an override: the key of the section it overrides
            continue
        if parts[0] == "campaigns" and len(parts) == 2 and parts[1] in overridable:
            continue
        keys.add(key)
    sections = {k for k in keys if "." not in k}
    missing = sorted(k for k in keys - sections if k not in documented())
    assert not missing, f"config.toml uses keys docs/config.md does not list: {missing}"
    assert sections <= {k.split(".")[0] for k in documented()}


def test_the_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/config.md", "docs/contract.md", "docs/architecture.md"):
        assert page in readme, page
        assert (ROOT / page).exists(), page
    # every page the README links lives in the repository: no link climbs out of it
    outside = [link for link in re.findall(r"\]\(([^)]+)\)", readme) if link.startswith("..")]
    assert not outside, outside
