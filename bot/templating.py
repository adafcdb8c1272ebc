"""One Jinja environment for every reply and broadcast; templates live in templates/<feature>/<name>.txt.j2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.ext import Extension

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates"
SUFFIX = ".txt.j2"


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
    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else DEFAULT_DIR
        self.env = Environment(
            loader=FileSystemLoader(str(self.directory), encoding="utf-8"),
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
            try:
                self._template(name)
            except TemplateSyntaxError as exc:
                raise TemplateProblem(
                    f"template {self.directory / (name + SUFFIX)} line {exc.lineno}: {exc.message}; fix it and start again"
                ) from None

    def check_samples(self, samples: dict[str, dict[str, Any]], base: dict[str, Any] | None = None) -> None:
        """Render every template that has sample data under StrictUndefined: a typo such as `{{ earnd }}`
        fails here, naming the file and line, instead of turning every reply into the apology."""
        self.check()
        for name in self.names():
            if name not in samples:
                continue
            try:
                self._template(name).render(**{**(base or {}), **samples[name]})
            except Exception as exc:  # any failure of a template on good data is the template's
                path = self.directory / (name + SUFFIX)
                line = _template_line(exc, path)
                where = f"{path} line {line}" if line else str(path)
                raise TemplateProblem(f"template {where}: {exc}; fix it and start again") from None

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
