/*
 * filter.h: reads a push event and decides what it trains.
 *
 * Everything here works on bytes that came from the network (though only
 * after their signature was checked): pure functions over a buffer that
 * return a verdict and a reason, tested by tables in tests/test_filter.c.
 */
#ifndef FILTER_H
#define FILTER_H

#include <stddef.h>

#include <cJSON.h>

#include "conf.h"
#include "util.h"

#define FILTER_REASON_MAX 256

/*
 * Glob match of a whole string: '*' and '?' stay inside one '/'-separated
 * segment; "**" crosses segments, and as a whole segment may also stand
 * for none (so "a" "/" "**" "/" "b" matches "a/b"); "[...]" is a class
 * ("[!...]" negated); '\' quotes.  Returns 1 on match, else 0.
 */
int	 glob_match(const char *pat, const char *s);

/*
 * Matches a repository path as .gitignore does: a pattern without a '/'
 * matches a file or directory name at any depth; one with a '/' is anchored
 * at the top; a trailing '/' matches directories only; a match of any
 * leading directory matches everything under it.  Returns 1 or 0.
 */
int	 path_match(const char *pat, const char *path);

/*
 * Finds the "payload" field of an application/x-www-form-urlencoded body
 * and decodes it in place.  Returns its length with *out pointing into
 * body, or -1 if there is no such field or its escapes are bad.
 */
long	 form_payload(char *body, size_t len, char **out);

struct push {
	cJSON		*root;		/* owns everything below */
	struct arena	*arena;		/* root's memory */
	const char	*ref;		/* "refs/heads/main" */
	const char	*branch;	/* "main", or NULL for other refs */
	const char	*after;		/* 40 or 64 lowercase hex digits */
	const char	*repository;	/* "owner/name", or "" */
	const char	*repository_url; /* its html_url if sane, or NULL */
	int		 deleted;	/* the push deletes the ref */
	char		 commit_title[TITLE_MAX];	/* title_clean of
					   head_commit's message, or of the
					   commit whose id is after; "" */
};

/*
 * Parses a push event body, into an arena of its own (a static block,
 * then mmap'd chunks, that cJSON's allocations are bumped out of, freed
 * all at once by push_free): no malloc and free per node, and what a
 * large push took goes back to the system when it is freed.  Returns 0, or -1 with the reason in reason:
 * the body is not one JSON object (or has bytes after it), a member that
 * decides what runs is there twice, a string holds \u0000, or ref,
 * after or repository.full_name is missing or unsafe.
 */
int	 push_parse(struct push *p, const char *body, size_t len,
	    char reason[FILTER_REASON_MAX]);
void	 push_free(struct push *p);

struct selection {
	char	**configs;	/* the config of each run, in push order */
	size_t	  n;
	int	  everything;	/* file lists were missing or truncated */
};

enum filter_result {
	FILTER_RUN = 1,		/* sel holds the runs (at least one) */
	FILTER_IGNORE = 0,	/* nothing to train: reason says why */
	FILTER_ERROR = -1	/* out of memory */
};

/* Decides what a parsed push trains. */
/*
 * The common delivery decided without a parse: a push whose top-level
 * "ref" (there once, a string without escapes) is a tag, not a branch or
 * a branch no one watches is FILTER_IGNORE, with the reason filter_push
 * would give.  Anything else, or a body the scan is unsure of, is
 * FILTER_RUN: parse it then.  The scan skips nested values by counting
 * brackets without checking them, so a signed body that is no JSON but
 * names an unwatched branch is ignored rather than refused: either way
 * nothing starts.  ref and after get their values if found ("" else),
 * for the log line.
 */
#define PEEK_MAX	256

enum filter_result push_peek(const struct conf *c, const char *body,
	    size_t len, char ref[PEEK_MAX], char after[PEEK_MAX],
	    char reason[FILTER_REASON_MAX]);

/*
 * The "owner/name" a repository URL on github.com names
 * (git@github.com:acme/x.git, https://github.com/acme/x,
 * ssh://git@github.com/acme/x.git) into out.  Returns 1, or 0 for another
 * host (a mirror may be named otherwise), a local path or file:// URL, or
 * a name GitHub would not have.
 */
#define REPO_NAME_MAX	256
int	 repo_of_url(const char *url, char out[REPO_NAME_MAX]);

enum filter_result filter_push(const struct conf *c, const struct push *p,
	    struct selection *sel, char reason[FILTER_REASON_MAX]);
void	 selection_free(struct selection *sel);

/*
 * Returns 1 if path is a safe relative repository path: not empty, not
 * absolute, no "." or ".." segment, no leading '-', no control byte,
 * valid UTF-8.
 */
int	 path_safe(const char *path);

/* A delivery id: [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'. */
int	 delivery_id_safe(const char *s);

/*
 * The checks every value that may fill a {placeholder} passes, whether it
 * came with a delivery or from a job.json (retry): ref and sha always,
 * repository, config and delivery unless NULL.  Returns 0, or -1 with the
 * reason.
 */
int	 job_values_valid(const char *ref, const char *sha,
	    const char *repository, const char *config, const char *delivery,
	    char reason[FILTER_REASON_MAX]);

#endif
