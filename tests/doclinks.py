#!/usr/bin/env python3
"""tests/doclinks.py FILE...: every relative link in the Markdown FILEs,
and every docs/PAGE.md#anchor named in the other FILEs (C sources,
contrib, man pages), must reach a file, and its #anchor a heading there,
with GitHub's anchors (lower case, punctuation but - and _ dropped,
spaces as -, a repeated heading -1, -2, ...).  Prints each broken one as
FILE:LINE: TARGET: why; exits 1 if any."""
import os
import re
import sys

ROOT = os.getcwd()


def anchors(path, cache={}):
    if path not in cache:
        seen, out, fence = {}, set(), False
        for line in open(path, encoding="utf-8"):
            if line.startswith("```"):
                fence = not fence
            m = re.match(r"^(#{1,6}) +(.*?) *#* *$", line)
            if fence or not m:
                continue
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else "%s-%d" % (slug, n))
        cache[path] = out
    return cache[path]


def target_ok(base, target):
    path, _, frag = target.partition("#")
    full = os.path.normpath(os.path.join(base, path)) if path else None
    if full is not None and not os.path.exists(full):
        return "no such file"
    if frag:
        if full is not None and not full.endswith(".md"):
            return "an anchor in a file that is not Markdown"
        if frag not in anchors(full or cur):
            return "no heading makes #" + frag
    return None


bad = 0
for cur in sys.argv[1:]:
    md = cur.endswith(".md")
    base = os.path.dirname(cur)
    fence = False
    for no, line in enumerate(open(cur, encoding="utf-8", errors="replace"), 1):
        if md and line.startswith("```"):
            fence = not fence
        if md and (fence or line.startswith("    ")):
            continue
        if md:
            line = re.sub(r"`[^`]*`", "", line)
            found = re.findall(r"\]\(([^)\s]+)\)", line)
            found = [t for t in found if not re.match(r"[a-z]+:", t)]
        else:
            found = re.findall(r"\bdocs/[a-z0-9-]+\.md(?:#[A-Za-z0-9_-]+)?", line)
            base = ROOT
        for t in found:
            why = target_ok(base, t)
            if why:
                print("%s:%d: %s: %s" % (cur, no, t, why))
                bad += 1
sys.exit(1 if bad else 0)
