# swift-webhook: a GitHub push webhook that starts ms-swift training runs.
#
#   make            build ./swift-webhook
#   make check      install missing packages, build, run every test
#   make unit       only the unit tests, in seconds
#   make demo       lighttpd on 127.0.0.1, a signed push, the job it ran
#   make bench      CPU per delivery (rejected, ignored, 25 MB)
#   make bench-http the whole path through lighttpd, beside an empty
#                   FastCGI responder and Debian's webhook (wrk)
#   make fuzz       libFuzzer on the parsers (clang; FUZZ_SECONDS each)
#   make check SANITIZE=1   the same under ASan and UBSan
#   make valgrind   the unit tests and the e2e suite under valgrind
#   make deb-check  build the Debian package, lintian, install, purge (root)
#   make install    /usr/lib/cgi-bin/swift-webhook (linked from
#                   /usr/sbin), the man pages, contrib/ in
#                   /usr/share/swift-webhook, the README, docs/ and the
#                   server snippets in /usr/share/doc/swift-webhook
#                   (PREFIX, DESTDIR)

PKG_CONFIG ?= pkg-config
PKGS	= fcgi libcjson libcrypto
CC	?= cc
CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	  -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation \
	  $(WERROR)
SAN_1	= -fsanitize=address,undefined,float-cast-overflow \
	  -fno-sanitize-recover=all -fno-omit-frame-pointer
VERSION	?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
XFLAGS	= $(CPPFLAGS) -std=gnu11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' $(WARN) \
	  $(SAN_$(SANITIZE))
# Lazy: expanded when a recipe runs, after "deps" may have installed them.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null || \
	  echo -I/usr/include/cjson)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || \
	  echo -lfcgi -lcjson -lcrypto)

# Bottom to top: each uses only those before it (README, Layout).
LIB_OBJS = util.o window.o conf.o sig.o rundir.o results.o diff.o filter.o \
	  spawn.o schedule.o queue.o job.o deployment.o checkout.o gpu.o slurm.o \
	  commitstatus.o metrics.o trainer.o deploy.o supervise.o lifecycle.o \
	  delivery.o html.o compare.o status.o prune.o cli.o
OBJS	= webhook.o $(LIB_OBJS)
TESTS	= $(patsubst %.c,%,$(wildcard tests/test_*.c))
TOOLS	= tests/fake-swift tests/bench tests/swift-webhook-clock

PREFIX	?= /usr
CGIDIR	?= $(PREFIX)/lib/cgi-bin

all: swift-webhook

swift-webhook: $(OBJS)
	$(CC) $(CFLAGS) $(XFLAGS) -o $@ $(OBJS) $(LDFLAGS) $(PKG_LIBS)

%.o: %.c
	$(CC) $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -I. -c -o $@ $<

tests/%: tests/%.c tests/t.h tests/req.h tests/fixture.h tests/difftest.h \
    $(LIB_OBJS)
	$(CC) $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -I. -o $@ $< $(LIB_OBJS) \
	    $(LDFLAGS) $(PKG_LIBS)

tests/fake-swift: tests/fake-swift.c
	$(CC) $(CFLAGS) $(XFLAGS) -o $@ $<

# The same program with a clock the tests can set (schedule.h); never
# installed.
tests/schedule-clock.o: schedule.c
	$(CC) $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -DTEST_CLOCK -I. -c -o $@ $<

tests/swift-webhook-clock: webhook.o tests/schedule-clock.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(XFLAGS) -o $@ webhook.o tests/schedule-clock.o \
	    $(filter-out schedule.o,$(LIB_OBJS)) $(LDFLAGS) $(PKG_LIBS)

$(OBJS) tests/schedule-clock.o: checkout.h cli.h commitstatus.h conf.h \
	  delivery.h deploy.h deployment.h filter.h gpu.h job.h lifecycle.h \
	  prune.h queue.h \
	  metrics.h results.h rundir.h schedule.h sig.h slurm.h spawn.h \
	  status.h supervise.h trainer.h util.h

deps:
	@sh tests/deps.sh --all

build-tests: swift-webhook $(TESTS) $(TOOLS)

check: deps
	$(MAKE) build-tests
	tests/run

UNITS	= $(TESTS:tests/test_%=unit-%)
unit: swift-webhook $(TESTS) tests/fake-swift
	tests/run $(UNITS)

# memcheck sees into the system's libcjson, which the sanitizers do not
# instrument (a use after free there went unseen under ASan).
valgrind: deps
	$(MAKE) build-tests
	VALGRIND=1 tests/run $(UNITS) e2e

# The Debian package, as an admin gets it: built from a clean clone of
# the committed tree, lintian, installed with apt, a push served through
# Apache, purged (root; it installs the package for real).
deb-check: tests/fake-swift
	tests/run deb

demo:
	@sh tests/deps.sh
	$(MAKE) swift-webhook tests/fake-swift
	tests/demo

bench: deps
	$(MAKE) swift-webhook tests/bench
	tests/bench

tests/fcgi-empty: tests/fcgi-empty.c
	$(CC) $(CFLAGS) $(XFLAGS) $(PKG_CFLAGS) -o $@ $< $(LDFLAGS) $(PKG_LIBS)

bench-http:
	@sh tests/deps.sh wrk webhook
	$(MAKE) swift-webhook tests/fake-swift tests/fcgi-empty
	tests/bench-http

FUZZ_SECONDS ?= 60
# Every reader of untrusted bytes; seeds in tests/fuzz/NAME, and a crash
# found is kept there as a seed of its own.
FUZZERS	= sig form push results job conf slurm gpu status diff deployment
FUZZ_CC	= clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -DVERSION='"fuzz"' \
	  -D_GNU_SOURCE
fuzz:
	@sh tests/deps.sh clang libclang-rt-14-dev
	mkdir -p tests/tmp
	for f in $(FUZZERS); do \
		$(FUZZ_CC) $(PKG_CFLAGS) -I. -o tests/fuzz_$$f tests/fuzz_$$f.c \
		    $(LIB_OBJS:.o=.c) $(PKG_LIBS) -lm || exit 1; \
		mkdir -p tests/tmp/corpus-$$f; \
		tests/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
		    -timeout=10 -rss_limit_mb=2048 \
		    -artifact_prefix=tests/tmp/crash-$$f- \
		    tests/tmp/corpus-$$f tests/fuzz/$$f || exit 1; \
	done

install: swift-webhook
	install -d $(DESTDIR)$(CGIDIR) $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/sbin
	install -m 755 swift-webhook $(DESTDIR)$(CGIDIR)/swift-webhook
	ln -sf $(CGIDIR)/swift-webhook $(DESTDIR)$(PREFIX)/sbin/swift-webhook
	install -m 644 swift-webhook.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 swift-webhook.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/share/swift-webhook
	install -m 755 contrib/notify-dingtalk contrib/notify-wecom \
	    $(DESTDIR)$(PREFIX)/share/swift-webhook/
	install -m 644 contrib/swift-webhook-tick.service \
	    contrib/swift-webhook-tick.timer contrib/swift-webhook.cron \
	    contrib/grafana-dashboard.json \
	    $(DESTDIR)$(PREFIX)/share/swift-webhook/
	install -d $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/apache \
	    $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/lighttpd \
	    $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/docs
	install -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/docs/
	install -m 644 apache/* $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/apache/
	install -m 644 lighttpd/* \
	    $(DESTDIR)$(PREFIX)/share/doc/swift-webhook/lighttpd/

clean:
	rm -f swift-webhook *.o tests/*.o $(TESTS) $(TOOLS) tests/fcgi-empty \
	    $(FUZZERS:%=tests/fuzz_%)
	rm -rf tests/tmp

.PHONY: all deps build-tests check unit valgrind deb-check demo bench bench-http fuzz \
	install clean
