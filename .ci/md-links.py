#!/usr/bin/env python3
"""Checks the links between the repository's Markdown files.

Every link in a tracked `*.md` file that points into the repository must resolve: a relative
link (`docs/guide.md`, `../bench/README.md#python`) to a file or directory that exists, and an
absolute link to this repository's main branch (`https://github.com/shmkit/shmkit/blob/main/…`,
which the pages published on crates.io and PyPI use, as those sites do not resolve relative
links the way GitHub does) to a file or directory in this checkout. Those published pages
(the README, the library's crates.io page, and every crate's README) must use the absolute
form for other files. A `#fragment` pointing into a Markdown file must name one of its
headings (GitHub's anchor for it). Links to other sites are not fetched. Exits 1, listing
every broken link, or 0.
"""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
REPO_URL = re.compile(r"https://github\.com/shmkit/shmkit/(?:blob|tree)/main/([^#?]*)(#.*)?$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def markdown_files():
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return sorted({ROOT / line for line in out.splitlines() if (ROOT / line).is_file()})


def text_lines(path):
    """The lines outside fenced code blocks, with inline code spans blanked, numbered."""
    fenced = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fenced is None:
                fenced = m.group(1)
            elif fenced == m.group(1):
                fenced = None
            continue
        if fenced is None:
            yield number, CODE_SPAN.sub(lambda c: " " * len(c.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        found = set()
        fenced = None
        for line in path.read_text(encoding="utf-8").splitlines():
            m = FENCE.match(line)
            if m:
                fenced = m.group(1) if fenced is None else (None if fenced == m.group(1) else fenced)
                continue
            h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if fenced is None and h:
                base = slug(h.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
        cache[path] = found
    return cache[path]


def published(path):
    """Whether `path` is shown on crates.io or PyPI: the README and the crates' READMEs."""
    rel = path.relative_to(ROOT).as_posix()
    return rel == "README.md" or re.fullmatch(r"crates/[^/]+/README\.md", rel) is not None


def check(source, target):
    """None if `target` (a link in `source`) resolves, else why not."""
    external = re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)
    if published(source) and not target.startswith("#") and not external:
        return "a published page: link to https://github.com/shmkit/shmkit/blob/main/… instead"
    m = REPO_URL.match(target)
    if m:
        path, fragment = ROOT / unquote(m.group(1)), (m.group(2) or "")[1:]
    elif external:
        return None  # another site, or mailto: not checked
    else:
        rel, _, fragment = target.partition("#")
        path = (source.parent / unquote(rel)) if rel else source
    try:
        path.resolve().relative_to(ROOT)
    except ValueError:
        return f"points outside the repository: {path}"
    if not path.exists():
        return f"no such file: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
    if fragment and path.suffix == ".md" and fragment not in anchors(path):
        return f"no heading #{fragment} in {path.relative_to(ROOT)}"
    return None


def main():
    broken = 0
    files = markdown_files()
    for md in files:
        for number, line in text_lines(md):
            for m in LINK.finditer(line):
                why = check(md, m.group(1))
                if why:
                    broken += 1
                    print(f"{md.relative_to(ROOT)}:{number}: {m.group(1)}: {why}")
    if broken:
        print(f"{broken} broken link(s)", file=sys.stderr)
        return 1
    print(f"links ok in {len(files)} Markdown files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
