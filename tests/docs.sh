#!/bin/bash
# tests/docs.sh: the documentation a person finds.  The README stays the
# short front door; every relative link and anchor in it and in docs/
# resolves, and so does every docs/PAGE.md#anchor a message or a shipped
# file points at; both man pages lint clean with mandoc; and every
# configuration key the binary accepts (its table in conf.c) is in
# swift-webhook.conf(5) and docs/configuration.md, and every key they
# name is one the binary accepts.
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 2
plan 14
mktestdir docs
BIN=$TOP/swift-webhook

n=$(wc -l < README.md)
check "the README is at most 300 lines" "it has $n" test "$n" -le 300
for h in Install Deploy; do
	at=$(grep -n "^## $h\$" README.md | cut -d: -f1)
	check "the README's $h section starts in its first 150 lines" \
	    "at line ${at:-none}" test -n "$at" -a "${at:-999}" -le 150
done
out=$(python3 tests/doclinks.py README.md docs/*.md 2>&1)
check "every relative link and anchor in README.md and docs/ resolves" "$out" test -z "$out"
out=$(python3 tests/doclinks.py *.c *.h contrib/* apache/* lighttpd/* swift-webhook.8 swift-webhook.conf.5 2>&1)
check "every docs/ page a message or shipped file points at exists, with its anchor" "$out" test -z "$out"
out=$(grep -n "the README\|README's\|README," *.c *.h contrib/* apache/* lighttpd/* 2>&1)
check "no message points at the README without naming the page" "$out" test -z "$out"
out=$(for f in docs/*.md; do grep -q "](${f})" README.md || echo "$f"; done)
check "the README's table links every page of docs/" "$out" test -z "$out"

# mandoc's own database decides whether an .Xr target is installed:
# that says nothing of the page.
for m in swift-webhook.8 swift-webhook.conf.5; do
	out=$(mandoc -T lint -W style "$m" 2>&1 | grep -v "mandoc.db\|referenced manual not found")
	check "mandoc -T lint: $m is clean" "$out" test -z "$out"
done

# The keys: conf.c's table is what the binary accepts.
sed -n '/^static const struct key keys\[NKEYS\] = {/,/^};/p' conf.c |
    sed -n 's/^.*{ "\([a-z_]*\)",.*$/\1/p' | sort > "$T/code"
sed -n 's/^\.It Cm \([a-z_]*\) No = .*/\1/p' swift-webhook.conf.5 | sort > "$T/man"
sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' docs/configuration.md | sort > "$T/md"
check "the table in conf.c has the keys (a test of this test)" "$(wc -l < "$T/code")" test "$(wc -l < "$T/code")" -gt 40
check "swift-webhook.conf(5) documents every key the binary accepts, and only those" \
    "$(diff "$T/code" "$T/man")" diff "$T/code" "$T/man"
check "docs/configuration.md documents every key the binary accepts, and only those" \
    "$(diff "$T/code" "$T/md")" diff "$T/code" "$T/md"
# And the binary itself: a key the page names is never an unknown key.
out=
for k in $(cat "$T/man"); do
	printf '%s = x\n' "$k" > "$T/one.conf"
	"$BIN" -c "$T/one.conf" check > "$T/one.out" 2>&1
	grep -q "unknown key" "$T/one.out" && out="$out $k"
done
printf 'no_such_key = x\n' > "$T/one.conf"
"$BIN" -c "$T/one.conf" check > "$T/one.out" 2>&1
grep -q 'unknown key "no_such_key"' "$T/one.out" || out="$out (an unknown key is not said: $(head -1 "$T/one.out"))"
check "the binary accepts every key the man page names" "$out" test -z "$out"
# The placeholders, from conf.c's names.
out=$(sed -n '/^const char \*const conf_placeholder_names/,/^};/p' conf.c |
    sed -n 's/.*= "\([a-z_]*\)",/\1/p' | while read -r p; do
	grep -q "{$p}" swift-webhook.conf.5 || echo "$p not in swift-webhook.conf.5"
	grep -q "{$p}" docs/configuration.md || echo "$p not in docs/configuration.md"
done)
check "every placeholder is documented" "$out" test -z "$out"
