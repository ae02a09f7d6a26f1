"""Reads HTML files with Python's HTML parser (html.parser, a tokenizer that follows the HTML
standard's states for tags and attributes) and prints, for each file, one JSON object:
the tags in order, each a start tag's name with its attribute names or an end tag's "/name"; every attribute value and text run
(decoded); and any comment, declaration or processing instruction after the doctype.

Used by the hostile-text render test: a page rendered with hostile text must have exactly the
tags and attributes the same page has with plain text."""
import json
import sys
from html.parser import HTMLParser


class Structure(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.values = []
        self.texts = []
        self.other = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(" ".join([tag] + [name for name, _ in attrs]))
        self.values.extend(value for _, value in attrs if value is not None)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.tags.append("/" + tag)

    def handle_data(self, data):
        self.texts.append(data)

    def handle_comment(self, data):
        self.other.append("comment")

    def handle_decl(self, decl):
        if decl.lower() != "doctype html":
            self.other.append("decl " + decl)

    def handle_pi(self, data):
        self.other.append("pi")

    def unknown_decl(self, data):
        self.other.append("unknown")


for path in sys.argv[1:]:
    parser = Structure()
    with open(path, encoding="utf-8", newline="") as handle:
        parser.feed(handle.read())
    parser.close()
    print(json.dumps({
        "file": path, "tags": parser.tags, "values": parser.values, "text": "".join(parser.texts),
        "other": parser.other,
    }, ensure_ascii=False))
