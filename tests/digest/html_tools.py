"""Read an HTML email back with html.parser: elements with their attributes and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "img", "hr", "link", "input"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    text: str = ""

    def all(self, tag: str | None = None, **attrs) -> list["Node"]:
        out = []
        for c in self.children:
            if (tag is None or c.tag == tag) and all(c.attrs.get(k.replace("_", "-")) == v if v is not True
                                                     else k.replace("_", "-") in c.attrs for k, v in attrs.items()):
                out.append(c)
            out += c.all(tag, **attrs)
        return out

    def full_text(self) -> str:
        return " ".join((self.text + " " + " ".join(c.full_text() for c in self.children)).split())


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].text += data


def parse(html: str) -> Node:
    p = _Parser()
    p.feed(html)
    p.close()
    assert len(p.stack) == 1, f"unclosed elements: {[n.tag for n in p.stack[1:]]}"
    return p.root
