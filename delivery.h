/*
 * delivery.h: one webhook delivery, in order: method, size, type,
 * signature, headers, event, push, filter, jobs.
 *
 * The request loop (webhook.c) hands over the request's parameters and a
 * way to read its body; this answers with a status, a JSON body and what
 * the log line should say.  Nothing here knows CGI from FastCGI.
 */
#ifndef DELIVERY_H
#define DELIVERY_H

#include <stddef.h>
#include <sys/types.h>

#include <cJSON.h>

#include "conf.h"

struct request {
	const char	*method;
	const char	*content_type;
	const char	*content_length;	/* NULL if absent */
	const char	*event;			/* X-GitHub-Event */
	const char	*delivery;		/* X-GitHub-Delivery */
	const char	*signature;		/* X-Hub-Signature-256 */
	/* Reads up to len body bytes; returns the count, 0 at end, -1. */
	ssize_t		(*read)(void *ctx, char *buf, size_t len);
	void		*ctx;
	int		 dry;		/* a dry run (swift-webhook dry-run):
					   no signature needed, nothing
					   written or started; the answer
					   says what each run would be */
};

struct reply {
	int		 status;	/* HTTP status */
	cJSON		*json;		/* the answer: status, reason, jobs */
	/* For the log line; payload strings are cleaned before use. */
	char		 decision[16];	/* started, ignored, duplicate, ... */
	char		 reason[512];	/* may say more than the client sees */
	char		 event[32];
	char		 delivery[72];
	char		 repository[128];
	char		 ref[128];
	char		 sha[8];
	char		 jobs[512];	/* ids, comma-separated */
};

/*
 * Handles one delivery.  c is the loaded configuration, or NULL when it
 * failed to load (conf_err then says why).  Always fills rp; the caller
 * frees rp->json with reply_free().
 */
void	 delivery_handle(struct conf *c, const char *conf_err,
	    const struct request *rq, struct reply *rp);
void	 reply_free(struct reply *rp);

/* Returns the reason phrase for an HTTP status this program answers. */
const char *http_reason(int status);

#endif
