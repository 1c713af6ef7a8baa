#!/bin/bash
# tests/layers.sh: the modules stay a ladder.  The Makefile's LIB_OBJS
# lists them bottom to top (webhook.c on top of all); every module (its
# .c and .h) may include only the headers of modules below it.  A check
# per module; a file the list does not name is a failure too.
. "$(dirname "$0")/lib.sh"
cd "$TOP" || exit 2

ORDER=$(sed -n '/^LIB_OBJS/,/[^\\]$/p' Makefile | tr -d '\\' |
    sed 's/^LIB_OBJS[[:space:]]*=//' | tr ' \t' '\n\n' | sed -n 's/\.o$//p')
ORDER="$ORDER webhook"
# shellcheck disable=SC2086
set -- $ORDER
plan $(($# + 1))

declare -A floor
n=0
for m in $ORDER; do
	n=$((n + 1))
	floor[$m]=$n
done

for m in $ORDER; do
	bad=
	for inc in $(cat "$m.c" $([ -f "$m.h" ] && echo "$m.h") |
	    sed -n 's/^#include "\([a-z_]*\)\.h"$/\1/p' | sort -u); do
		[ "$inc" = "$m" ] && continue
		if [ -z "${floor[$inc]:-}" ]; then
			bad="$bad $inc.h (no module of the Makefile's)"
		elif [ "${floor[$inc]}" -ge "${floor[$m]}" ]; then
			bad="$bad $inc.h (floor ${floor[$inc]}, not below ${floor[$m]})"
		fi
	done
	if [ -z "$bad" ]; then
		pass "layers: $m.c (floor ${floor[$m]}) uses only what is below it"
	else
		fail "layers: $m.c (floor ${floor[$m]}) uses what is not below it" "$bad"
	fi
done

stray=
for f in *.c; do
	[ -n "${floor[${f%.c}]:-}" ] || stray="$stray $f"
done
if [ -z "$stray" ]; then
	pass "layers: every .c file has its place in LIB_OBJS"
else
	fail "layers: every .c file has its place in LIB_OBJS" "not listed:$stray"
fi
