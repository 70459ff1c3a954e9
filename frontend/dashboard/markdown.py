"""Text from users, the API or the URL shown literally inside Streamlit's Markdown (titles, captions, boxes)."""

from __future__ import annotations

import re

# Every character that starts Markdown with an effect beyond plain text in Streamlit: emphasis (* _ ~),
# code (`), links, images and Streamlit directives such as :red[...] ([ ]), HTML and autolinks (< >),
# character references (&), formulas ($), tables (|), headings (#) and escapes themselves (\). A
# backslash before ASCII punctuation always renders as that character alone (CommonMark), so the
# escaped text reads exactly as typed. Letters, digits, `-`, `.`, `@` and `:` stay as they are, so
# names and e-mail addresses keep their source form too.
_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|&#])")
# A line break would end the sentence the value is part of and could start a list, quote or heading.
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c]+")


def literal(text: object) -> str:
    """``text`` as Markdown that renders as the same characters, on one line."""
    return _SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", str(text)))


def code(text: object) -> str:
    """``text`` as an inline code span, whatever backticks it holds (backslashes do not escape in code)."""
    value = _LINE_BREAK.sub(" ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side when the value starts or ends with a backtick; CommonMark strips one of each.
    padded = f" {value} " if value.startswith("`") or value.endswith("`") else value
    return f"{fence}{padded}{fence}"
