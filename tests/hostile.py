"""Hostile payload text and the checks that none of it leaks: markup into HTML, Markdown links or
bare URLs into Teams text, non-https links into link fields, control characters into log lines."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "'><iframe src=javascript:alert(1)></iframe>",
]
MARKDOWN = [
    "[click here](https://evil.example/phish)",
    "[x](javascript:alert(1))",
    "see https://evil.example/raw or www.evil.example",
    "<https://evil.example/auto> <at>Ana</at>",
    "**bold** _it_ `code` ~~gone~~",
    "\n- listed\n1. numbered\n# heading",
]
URLS = [
    "javascript:alert(document.cookie)",
    " JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "http://evil.example/plain",
    "//evil.example/scheme-relative",
    "https://user:pw@evil.example/",
    "https://evil.example/\x1b[31m",
]
CONTROLS = [
    "\x1b[31mred\x1b[0m\x07bell\x00nul",
    "line\r\n2026-12-07 01:00:00,000 ERROR alertrouter: forged",
    "abc\u202eexe.txt\u2066\u2069\u200f",
    "sep\u2028para\u2029nel\x85del\x7f",
]
HOSTILE = MARKUP + MARKDOWN + URLS + CONTROLS

# Tags the shipped email templates write; anything else in an HTML part came from a payload.
TEMPLATE_TAGS = {"html", "head", "meta", "title", "body", "table", "tr", "td", "th", "div", "h1", "h2", "a", "pre",
                 "span", "br"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def https_only(url: str) -> bool:
    """What may be sent as a link: https://host/... and nothing odd in it."""
    parts = urlsplit(url)
    return (url.startswith("https://") and bool(parts.hostname) and "@" not in parts.netloc
            and not re.search(r"[\s\\\x00-\x1f\x7f-\x9f]", url))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.in_head = tag == "head" or getattr(self, "in_head", False) and tag != "body"
        if tag not in TEMPLATE_TAGS and not (tag == "style" and self.in_head):  # the digest's media query
            self.problems.append(f"<{tag}> from payload")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> from payload")
            if name in ("href", "src") and not https_only(value or ""):
                self.problems.append(f"<{tag} {name}={value!r}> is not an https link")

    handle_startendtag = handle_starttag


def html_leaks(html: str) -> list[str]:
    """Tags, event-handler attributes and non-https links in an HTML part that no template wrote."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.problems


_MD_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
_RAW_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://|\bwww\.|(?<!\\)<")


def markdown_leaks(text: str) -> list[str]:
    """Markdown links, bare URLs and unescaped angle brackets (autolinks, <at> mentions) in a Teams
    TextBlock or fact."""
    return [f"markdown link in {text!r}" for _ in _MD_LINK.finditer(text)][:1] + \
        [f"bare URL or '<' in {text!r}" for _ in _RAW_URL.finditer(text)][:1]


def control_leaks(text: str) -> list[str]:
    """Control, bidi and line-separator characters (LF between lines and tabs are fine)."""
    return [f"{m[0]!r} in {text[max(0, m.start() - 30): m.end() + 30]!r}" for m in _CONTROL.finditer(text)][:3]


def card_texts(card: dict) -> list[str]:
    """Every string of an Adaptive Card that Teams renders as Markdown: TextBlock text, fact titles
    and values (nested containers included)."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                out.append(node.get("text", ""))
            if node.get("type") == "FactSet":
                for f in node.get("facts", []):
                    out.extend([f.get("title", ""), f.get("value", "")])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return out


def card_urls(card: dict) -> list[str]:
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Action.OpenUrl":
                out.append(node.get("url", ""))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return out
