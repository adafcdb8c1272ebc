"""Every template renders with sample data, so an operator's broken edit is caught before 8 am."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.templating import Renderer, TemplateProblem
from handlers.lib.samples import SAMPLES


def test_every_template_has_sample_data_and_renders() -> None:
    r = Renderer()
    r.check()
    assert sorted(SAMPLES) == r.names(), "add sample data here for every new template"
    for name, data in SAMPLES.items():
        text = r.render(name, {"name": "Alice", "keyword": "签到", "now": None, **data})
        assert text and "{{" not in text and "{%" not in text, name


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateProblem, match="undefined"):
        Renderer().render("checkin/already", {"streak": 1})


def test_a_broken_template_stops_the_start_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "checkin").mkdir()
    (tmp_path / "checkin" / "ok.txt.j2").write_text("签到成功\n{% if earned %}\n获得 {{ earned }}\n", encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        Renderer(tmp_path).check()
    assert "ok.txt.j2 line" in str(err.value) and "fix it" in str(err.value)


def test_a_line_ending_in_a_tag_keeps_its_line_break_and_a_tag_only_line_leaves_none(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x.txt.j2").write_text("a{% if on %}，b{% endif %}\n{% if on %}\nc\n{% endif %}\nd", encoding="utf-8")
    assert Renderer(tmp_path).render("t/x", {"on": True}) == "a，b\nc\nd"
    assert Renderer(tmp_path).render("t/x", {"on": False}) == "a\nd"
    text = Renderer().render("checkin/ok", {"name": "Alice", **SAMPLES["checkin/ok"]})
    assert "签到积分 ×2\n🏅 白银会员" in text
