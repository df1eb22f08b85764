"""Loading sources.yaml: pydantic validates it, and every problem is one line naming the file, the line, the
source and what is wrong (``sources.yaml:14: source 'dhs-oig': unknown kind 'rsss' …``); the lines come from
PyYAML's node tree, which pydantic never sees."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from monitor.durations import Duration, parse_duration
from monitor.errors import ConfigError
from monitor.sources import SOURCE_KINDS, SourceConfig

Model = TypeVar("Model", bound=BaseModel)
DEFAULT_CONFIG = "sources.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10,000 sources load in a blink
MAX_CONFIG_BYTES = 16 * 1024 * 1024  # 10,000 sources are ~2 MB; /dev/zero is not a config
MAX_NESTING = 64  # sources.yaml nests a handful of levels
MAX_NODES = 2_000_000  # after aliases are expanded: an alias bomb stops here, not at 60 s of CPU
TOP_LEVEL = ("defaults", "providers", "sources")


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval: Duration = "1h"
    jitter: Duration = "30s"
    alert_after_failures: int = Field(default=3, ge=1)  # silent-source check: failures in a row


class ProviderLimits(BaseModel):
    """A provider's budget; defaults come from its published quota (see monitor.budget)."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(default_factory=list)
    concurrency: int | None = Field(default=None, ge=1)
    per_minute: int | None = Field(default=None, ge=1)
    per_hour: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


@dataclass
class AppConfig:
    path: Path
    defaults: Defaults
    sources: list[SourceConfig]
    providers: dict[str, ProviderLimits] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # source id -> line in the file

    def interval_seconds(self, source: SourceConfig) -> int:
        return parse_duration(source.interval or self.defaults.interval)

    def enabled_sources(self, only: Iterable[str] | None = None) -> list[SourceConfig]:
        """The enabled sources in file order; with ``only``, just those of these ids."""
        wanted = None if only is None else set(only)
        return [s for s in self.sources if s.enabled and (wanted is None or s.id in wanted)]

    @cached_property
    def by_id(self) -> dict[str, SourceConfig]:
        return {s.id: s for s in self.sources}  # a worker looks up every poll's source: not a scan of 10,000

    def get(self, source_id: str) -> SourceConfig:
        if source_id not in self.by_id:
            raise ConfigError(f"{self.path.name}: no source with id {source_id!r}")
        return self.by_id[source_id]


def config_hash(source: SourceConfig) -> str:
    """Part of the change fingerprint: a changed source config is re-evaluated, not diffed."""
    blob = json.dumps(source.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG)


def _compose(name: str, text: str, loader_class: type[Any] = _LOADER) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data built from that same tree, once the tree passed
    ``_check_tree``: parsing twice held two trees at once, 80 MB for 10,000 sources."""
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_tree(name, root)
        return root, None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


def _check_tree(name: str, root: yaml.Node) -> None:
    """Refuse repeated keys (PyYAML keeps the last silently), nesting deeper than ``MAX_NESTING`` and aliases
    that would expand past ``MAX_NODES``, in one iterative pass that sizes each shared node once."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_NESTING:
            raise ConfigError(f"{name}:{_line(node)}: invalid YAML: nested more than {MAX_NESTING} levels deep")
        children = _children(node)
        if done:
            size[id(node)] = 1 + sum(size[id(child)] for child in children)
            if size[id(node)] > MAX_NODES:
                raise ConfigError(f"{name}:{_line(node)}: invalid YAML: "
                                  f"aliases expand to more than {MAX_NODES:,} values")
        elif id(node) not in size:
            seen: dict[str, int] = {}
            for key, _ in node.value if isinstance(node, yaml.MappingNode) else ():
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise ConfigError(f"{name}:{_line(key)}: duplicate key {key.value!r} "
                                          f"(first defined on line {seen[key.value]})")
                    seen[key.value] = _line(key)
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _key_node(mapping: yaml.Node | None, key: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    for k, v in mapping.value if isinstance(mapping, yaml.MappingNode) else ():
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None, None


def _field_line(mapping: yaml.Node | None, field_name: str) -> int:
    """The line of a field's value (else of its key, else of the mapping it is missing from)."""
    key, value = _key_node(mapping, field_name)
    return _line(value or key or mapping)


def pydantic_problem(error: ErrorDetails) -> str:
    """One validation error in the words of our messages (sources.yaml and watchlist files alike)."""
    loc = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"missing required field '{loc}'"
    if kind == "extra_forbidden":
        return f"unknown field '{loc}'"
    if kind == "string_pattern_mismatch" and loc == "id":  # the pattern itself means nothing to a reader
        return (f"field 'id': {error['input']!r} is not an id: up to 100 lower-case letters, digits, '.', '_' "
                "or '-' (e.g. dhs-oig-reports)")
    if kind == "bool_parsing":
        return f"field '{loc}': {error['input']!r} is neither true nor false"
    return f"field '{loc}': {error['msg'].removeprefix('Value error, ')}"


def _validated(model: type[Model], data: Any, name: str, label: str, line_of: Callable[[str], int]) -> Model:
    """``data`` as ``model``, else its first problem as ``file:line: label: problem``: a misspelt key shows up as
    "unknown 'urll'" and "missing 'url'", so the unknown one is named first."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        field_name = str(error["loc"][0]) if error["loc"] else ""
        raise ConfigError(f"{name}:{line_of(field_name)}: {label}: {pydantic_problem(error)}") from None


def load_config(path: str | os.PathLike[str] | None = None, *, check_budget: bool = True) -> AppConfig:
    """Read and validate the whole file; raise ConfigError with ``file:line: …`` on the first problem.

    ``check_budget=False`` leaves out the planned-requests check, for the commands that show it."""
    path = config_path(path)
    text = _read_text(path)
    defaults, providers, entries, source_lines = _top_level(path.name, text)  # the node tree is gone on return
    sources, lines = _sources(path.name, text, entries, source_lines)
    config = AppConfig(path=path, defaults=defaults, sources=sources, providers=providers, lines=lines)
    if check_budget:
        from monitor.budget import check  # the budgets need the whole config, and import this module

        check(config)
    return config


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found (set --config or MONITOR_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024 // 1024} MB: not a sources.yaml")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path.name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                          "save the file as UTF-8") from None


def _parse(name: str, text: str) -> tuple[yaml.Node | None, Any]:
    try:
        try:
            return _compose(name, text)
        except yaml.YAMLError:
            # libyaml's messages differ from PyYAML's; re-read with the pure loader so every
            # platform reports a broken file with the same words.
            return _compose(name, text, yaml.SafeLoader)
    except RecursionError:  # the composer recursed before the tree could be checked
        raise ConfigError(f"{name}:{_deep_line(text)}: invalid YAML: "
                          f"nested more than {MAX_NESTING} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else text.count("\n", 0, getattr(exc, "position", 0)) + 1
        problem = (getattr(exc, "problem", None) or str(exc)).splitlines()[0]
        raise ConfigError(f"{name}:{line}: invalid YAML: {problem}") from None


def _deep_line(text: str) -> int:
    """The line where flow brackets first nest deeper than ``MAX_NESTING`` (1 if they never do)."""
    depth = 0
    for position, char in enumerate(text):
        depth += (char in "[{") - (char in "]}")
        if depth > MAX_NESTING:
            return text.count("\n", 0, position) + 1
    return 1


def _top_level(name: str, text: str) -> tuple[Defaults, dict[str, ProviderLimits], list[Any], list[int]]:
    """Everything but the sources, checked against the node tree; the sources come back as plain data
    with each one's line, so the tree can go before they are validated."""
    root, data = _parse(name, text)
    if root is None or data is None:
        raise ConfigError(f"{name}:1: the file is empty (expected a 'sources:' list)")
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(f"{name}:{_line(root)}: expected a mapping with 'sources:' at the top level")
    for key_node, _ in root.value:
        if key_node.value not in TOP_LEVEL:
            raise ConfigError(f"{name}:{_line(key_node)}: unknown top-level key {str(key_node.value)!r} "
                              f"(expected one of: {', '.join(TOP_LEVEL)})")

    defaults = _validated(Defaults, data.get("defaults") or {}, name, "defaults",
                          partial(_field_line, _key_node(root, "defaults")[1]))
    providers_node = _key_node(root, "providers")[1]
    if not isinstance(data.get("providers") or {}, dict):
        raise ConfigError(f"{name}:{_line(providers_node)}: 'providers' must be a mapping of provider name to limits")
    providers = {str(provider): _validated(ProviderLimits, limits or {}, name, f"provider '{provider}'",
                                           partial(_field_line, _key_node(providers_node, str(provider))[1]))
                 for provider, limits in (data.get("providers") or {}).items()}

    sources_key, sources_node = _key_node(root, "sources")
    if sources_node is None:
        raise ConfigError(f"{name}:1: missing 'sources:' list")
    if not isinstance(data["sources"], list) or not isinstance(sources_node, yaml.SequenceNode):
        raise ConfigError(f"{name}:{_line(sources_key)}: 'sources' must be a list of sources")
    return defaults, providers, data["sources"], [_line(node) for node in sources_node.value]


def _sources(name: str, text: str, entries: list[Any], source_lines: list[int]
             ) -> tuple[list[SourceConfig], dict[str, int]]:
    def field_line(index: int, field_name: str) -> int:
        """Composed again for the one error: the tree is not held while 10,000 sources validate (33 MB)."""
        return _field_line(_key_node(_compose(name, text)[0], "sources")[1].value[index], field_name)  # type: ignore[union-attr]

    sources: list[SourceConfig] = []
    lines: dict[str, int] = {}
    kinds = ", ".join(sorted(SOURCE_KINDS))
    for index, (entry, line) in enumerate(zip(entries, source_lines)):
        if not isinstance(entry, dict):
            raise ConfigError(f"{name}:{line}: each source must be a mapping with 'id' and 'kind'")
        sid, kind = entry.get("id"), entry.get("kind")
        if isinstance(sid, bool):  # YAML 1.1: an id written off/no/on/yes arrives as a boolean
            raise ConfigError(f"{name}:{line}: source id {sid} is not text: quote it "
                              "(YAML reads off, no and false as False, on and yes as True)")
        if isinstance(sid, (int, float)):
            raise ConfigError(f'{name}:{line}: source id {sid} is not text: quote it (id: "{sid}")')
        if not isinstance(sid, str) or not sid:
            raise ConfigError(f"{name}:{line}: source without an 'id'")
        label = f"source {sid!r}"
        if kind is None:
            raise ConfigError(f"{name}:{line}: {label}: missing 'kind' (expected one of: {kinds})")
        if not isinstance(kind, str) or kind not in SOURCE_KINDS:
            raise ConfigError(f"{name}:{field_line(index, 'kind')}: {label}: unknown kind {str(kind)!r} "
                              f"(expected one of: {kinds})")
        config = _validated(SOURCE_KINDS[kind].Config, entry, name, label, partial(field_line, index))
        for expanded in config.expand():
            if expanded.id in lines:
                which = "" if expanded.id == sid else f" {expanded.id!r}"
                raise ConfigError(f"{name}:{line}: {label}: duplicate id{which} "
                                  f"(first defined on line {lines[expanded.id]})")
            sources.append(expanded)
            lines[expanded.id] = line
    return sources, lines
