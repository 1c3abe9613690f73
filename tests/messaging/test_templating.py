"""Plain substitution templates and SMS segment counting."""

import pytest

from messaging import templating as t


def test_render_substitutes_variables_and_fallbacks():
    context = {"first_name": "Ann", "company": ""}
    assert t.render("Hi {{first_name}} from {{ company | us }}!", context) == "Hi Ann from  us !"
    assert t.render("Hi {{last_name|there}}", context) == "Hi there"
    assert t.render("Hi {{last_name}}.", context) == "Hi ."


def test_render_is_one_pass_and_never_executes_anything():
    context = {"first_name": "{{company}}", "company": "Evil"}
    assert t.render("{{first_name}}", context) == "{{company}}"
    for literal in [
        "{% debug %}",
        "{{#if x}}",
        "{{ a.b }}",
        "{{ settings.SECRET_KEY }}",
        "{{first_name|safe|upper}}",
        "{% load static %}",
    ]:
        assert t.render(literal, context) == literal


def test_html_render_escapes_values_but_not_the_template():
    html = t.render(
        "<p>Hi {{first_name}}</p>", {"first_name": "<script>x</script>"}, escape_html=True
    )
    assert html == "<p>Hi &lt;script&gt;x&lt;/script&gt;</p>"
    assert t.render("{{first_name}}", {"first_name": "<b>"}) == "<b>"


def test_contact_context_metadata_and_builtins():
    context = t.contact_context(
        first_name="Ann", metadata={"appointment_date": "May 1", "first_name": "X", "nested": {}}
    )
    assert context["first_name"] == "Ann" and context["appointment_date"] == "May 1"
    assert "nested" not in context


def test_missing_variables_ignore_those_with_fallback():
    assert t.missing_variables(["{{a}} {{b|x}} {{c}}"], {"c": "yes"}) == {"a"}


@pytest.mark.parametrize(
    "text, encoding, chars, segments",
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("[" * 81, "GSM-7", 162, 2),
        ("é" * 160, "GSM-7", 160, 1),
        ("ê" * 70, "UCS-2", 70, 1),
        ("ê" * 71, "UCS-2", 71, 2),
        ("ê" * 134, "UCS-2", 134, 2),
        ("ê" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),
    ],
)
def test_sms_segments(text, encoding, chars, segments):
    info = t.sms_segments(text)
    assert (info.encoding, info.characters, info.segments) == (encoding, chars, segments)


@pytest.mark.parametrize(
    "template",
    ["", "plain", "{{a}}", "x{{a}}y{{b|fb}}z", "{{a}}{{a}}", "{% x %}{{ a.b }}{{a|}}", "{{a"],
)
def test_compiled_rendering_matches_the_regular_expression(template):
    context = {"a": "<A>", "b": ""}
    expected = t.VARIABLE.sub(
        lambda m: str(context.get(m.group(1)) or (m.group(2) or "")), template
    )
    assert t.render(template, context) == expected
    assert t.render_compiled(t.compile_template(template), context) == expected
