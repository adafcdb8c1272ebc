"""One Jinja environment for every reply and broadcast; templates live in templates/<feature>/<name>.txt.j2."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
)
from jinja2.bccache import Bucket
from jinja2.ext import Extension

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates"
SUFFIX = ".txt.j2"
CACHE_ENV = "BOT_CACHE_DIR"  # where compiled templates and the record of checked ones live; "" turns caching off
CHECKED = "checked.json"


def cache_dir() -> Path | None:
    """The cache folder: $BOT_CACHE_DIR, else the user's cache dir (XDG); None when caching is off.

    The folder is named after this module's source and the Jinja and Python versions, so code that
    compiles templates differently never reads what older code wrote.
    """
    chosen = os.environ.get(CACHE_ENV)
    if chosen == "":
        return None
    if chosen is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "qunjifen-bot")
    digest = hashlib.sha1(Path(__file__).read_bytes())
    digest.update(f"{jinja2.__version__} {sys.version}".encode())
    return Path(chosen) / f"templates-{digest.hexdigest()[:16]}"


class _QuietCache(FileSystemBytecodeCache):
    """Jinja's file cache, minus its failures: a cache that cannot be read or written (a read-only home,
    a full disk) only means templates are compiled again."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged cache file is a miss, never a failed reply
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache(directory: Path | None) -> BytecodeCache | None:
    if directory is None:
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        return None
    return _QuietCache(str(directory))


class TemplateProblem(Exception):
    """A template is missing or broken; the text names the file and what to fix."""


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


_TAG = re.compile(r"{%.*?%}|{#.*?#}")


class KeepTextLines(Extension):
    """trim_blocks drops the newline after any block tag that ends a line, so `a{% if x %}b{% endif %}`
    ran into the next line. Only a line made of tags alone should vanish: a line with text keeps its end."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        lines = source.split("\n")
        for i, line in enumerate(lines[:-1]):
            if line.rstrip().endswith(("%}", "#}")) and not line.rstrip().endswith(("-%}", "-#}")) \
                    and _TAG.sub("", line).strip():
                lines[i] = line + "\n"
        return "\n".join(lines)


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The template line an exception was raised on: Jinja rewrites its traceback to name template lines."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Renderer:
    """Templates compiled on first use; with a cache folder, compiled once and kept across runs (Jinja's
    bytecode cache checks each file's source, so an edited template is compiled again)."""

    def __init__(self, directory: Path | str | None = None, cache: Path | None = None) -> None:
        self.directory = Path(directory) if directory else DEFAULT_DIR
        self.cache = cache
        self.env = Environment(
            loader=FileSystemLoader(str(self.directory), encoding="utf-8"),
            bytecode_cache=_bytecode_cache(cache),
            auto_reload=False,  # each template is loaded once per process (self._cache); no stat per render
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
            keep_trailing_newline=False,
            extensions=[KeepTextLines],
        )
        self.env.filters["signed"] = _signed
        self._cache: dict[str, Any] = {}

    def names(self) -> list[str]:
        return sorted(n[: -len(SUFFIX)] for n in self.env.list_templates() if n.endswith(SUFFIX))

    def check(self) -> None:
        """Compile every template now, so an operator's broken edit stops the start, not the 8 am post."""
        for name in self.names():
            self._check_syntax(name)

    def check_samples(self, samples: dict[str, dict[str, Any]], base: dict[str, Any] | None = None) -> None:
        """Render every template that has sample data under StrictUndefined: a typo such as `{{ earnd }}`
        fails here, naming the file and line, instead of turning every reply into the apology."""
        self.check()
        for name in self.names():
            self._check_one(name, samples, base)
        self._record(self._fingerprints(samples, base))

    def check_changed(self, samples: dict[str, dict[str, Any]], base: dict[str, Any] | None = None) -> list[str]:
        """check_samples for the templates that changed since they last passed; returns the names checked.

        A template passed when it compiled and rendered on its sample; what passed is recorded in the cache
        folder by each template's content, the partials' (`_*.j2`, which templates include) and its sample
        data, so an unchanged tree costs reading the files, and an edited or new one is checked (and
        refused, naming the file and line) before the bot starts. Without a cache folder every one is.
        """
        prints = self._fingerprints(samples, base)
        passed = self._passed()
        changed = [name for name, key in prints.items() if passed.get(name) != key]
        for name in changed:
            self._check_syntax(name)
            self._check_one(name, samples, base)
        if changed:
            self._record({**{k: v for k, v in passed.items() if k in prints}, **{n: prints[n] for n in changed}})
        return changed

    def _check_syntax(self, name: str) -> None:
        try:
            self._template(name)
        except TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"template {self.directory / (name + SUFFIX)} line {exc.lineno}: {exc.message}; fix it and start again"
            ) from None

    def _check_one(self, name: str, samples: dict[str, dict[str, Any]], base: dict[str, Any] | None) -> None:
        if name not in samples:
            return
        try:
            self._template(name).render(**{**(base or {}), **samples[name]})
        except Exception as exc:  # any failure of a template on good data is the template's
            path = self.directory / (name + SUFFIX)
            line = _template_line(exc, path)
            where = f"{path} line {line}" if line else str(path)
            raise TemplateProblem(f"template {where}: {exc}; fix it and start again") from None

    def _fingerprints(self, samples: dict[str, dict[str, Any]], base: dict[str, Any] | None) -> dict[str, str]:
        """name -> what its check depends on: its source, every partial's, its sample data (and the base's)."""
        sources: dict[str, bytes] = {}
        for rel in self.env.list_templates():
            try:
                sources[rel] = (self.directory / rel).read_bytes()
            except OSError:
                continue
        partials = hashlib.sha1()
        for rel in sorted(r for r in sources if not r.endswith(SUFFIX)):
            partials.update(rel.encode() + b"\0" + sources[rel] + b"\0")
        common = partials.hexdigest() + repr(sorted((base or {}).items()))
        out: dict[str, str] = {}
        for rel, source in sources.items():
            if not rel.endswith(SUFFIX):
                continue
            name = rel[: -len(SUFFIX)]
            h = hashlib.sha1(source)
            h.update(f"\0{common}\0{samples.get(name)!r}".encode())
            out[name] = h.hexdigest()
        return out

    def _checked_file(self) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / f"{hashlib.sha1(str(self.directory.resolve()).encode()).hexdigest()[:16]}-{CHECKED}"

    def _passed(self) -> dict[str, str]:
        path = self._checked_file()
        if path is None:
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _record(self, passed: dict[str, str]) -> None:
        """Write what passed, atomically (another process may be starting too); a cache that cannot be
        written means the next start checks again."""
        path = self._checked_file()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(passed, fh, sort_keys=True)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass

    def _template(self, name: str) -> Any:
        t = self._cache.get(name)
        if t is None:
            t = self.env.get_template(name + SUFFIX)
            self._cache[name] = t
        return t

    def render(self, name: str, data: dict[str, Any]) -> str:
        try:
            return str(self._template(name).render(**data)).strip()
        except TemplateError as exc:
            raise TemplateProblem(f"template {name}{SUFFIX}: {exc}") from exc
