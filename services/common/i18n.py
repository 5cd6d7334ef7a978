"""Messages in Chinese and English, chosen per request by Accept-Language (Chinese by default).

A message is written once, in a service's labels module, as a pair of templates:

    MESSAGES = catalogue({"stage.same": ("项目已处于{to}阶段", "the project is already {to_en}")})
    raise IllegalTransition(MESSAGES("stage.same", to="在建", to_en="building"))

A `Text` travels inside domain errors (`detail`, `errors[].msg`) unchanged; the problem handler
turns every `Text` of a body into the language the caller asked for (`localise`). `str(text)` is
the English one, for logs and for code that has no caller to ask.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


@dataclass(frozen=True, slots=True)
class Text:
    """One message in both languages."""

    zh: str
    en: str

    def __str__(self) -> str:
        return self.en

    def __contains__(self, part: str) -> bool:  # "x" in text: either language holds it
        return part in self.zh or part in self.en

    def __add__(self, other: Text | str) -> Text:
        if isinstance(other, Text):
            return Text(self.zh + other.zh, self.en + other.en)
        return Text(self.zh + other, self.en + other)

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.zh


Catalogue = Callable[..., Text]


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:  # a template naming a value not given keeps it
        return "{" + key + "}"


def catalogue(templates: Mapping[str, tuple[str, str]]) -> Catalogue:
    """A message factory over `{key: (中文模板, English template)}`; values are `str.format`ted.

    A value that is itself a `Text` is put into each language's template in that language.
    """

    def message(key: str, **values: Any) -> Text:
        zh, en = templates[key]
        return Text(
            zh.format_map(_SafeDict({k: _in(v, "zh") for k, v in values.items()})),
            en.format_map(_SafeDict({k: _in(v, "en") for k, v in values.items()})),
        )

    message.templates = templates  # type: ignore[attr-defined]
    return message


def _in(value: Any, language: str) -> Any:
    return value.get(language) if isinstance(value, Text) else value


def plain(value: str | Text) -> Text:
    """A `Text` of a message that has one wording only (a value, a name)."""
    return value if isinstance(value, Text) else Text(value, value)


def join(parts: list[Text | str], zh_sep: str = "；", en_sep: str = "; ") -> Text:
    texts = [plain(p) for p in parts]
    return Text(zh_sep.join(t.zh for t in texts), en_sep.join(t.en for t in texts))


def language_of(accept_language: str | None) -> str:
    """`en` or `zh` from an Accept-Language header: the highest-weighted of the two, else zh."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.split("-")[0]
        if lang in LANGUAGES and q > best_q and q > 0:
            best, best_q = lang, q - position * 1e-6  # equal weights: the first listed wins
    return best


def localise(value: Any, language: str) -> Any:
    """`value` with every `Text` inside (dicts, lists) replaced by its `language` wording."""
    if isinstance(value, Text):
        return value.get(language)
    if isinstance(value, dict):
        return {k: localise(v, language) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localise(v, language) for v in value]
    return value


def code_of(value: Any, labels: Mapping[str, str]) -> Any:
    """The code for a value that is one of `labels`' Chinese labels ({code: 标签}); any other
    value as it is (the field's own validation then judges it)."""
    if isinstance(value, str):
        stripped = value.strip()
        for code, label in labels.items():
            if stripped == label:
                return code
    return value
