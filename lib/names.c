/*
 * names.c - the protocol's words: the name of each kind, outcome, action,
 * state and blob state as the files and the JSON views spell them, and
 * their parse back. The one owner of each spelling (docs/protocol.md);
 * everything else asks here.
 */
#include "internal.h"

#include <string.h>

const char *lp_kind_name(lp_kind kind)
{
	switch (kind) {
	case LP_KIND_CHECKPOINT: return "checkpoint";
	case LP_KIND_QUESTION: return "question";
	default: return "failure";
	}
}

int lp_kind_parse(const char *name, lp_kind *out)
{
	static const lp_kind all[] = {LP_KIND_FAILURE, LP_KIND_CHECKPOINT, LP_KIND_QUESTION};
	for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(name, lp_kind_name(all[i])) == 0) {
			*out = all[i];
			return LP_OK;
		}
	return LP_EINVAL;
}

const char *lp_outcome_name(lp_outcome o)
{
	switch (o) {
	case LP_OUTCOME_TIMED_OUT: return "timed_out";
	case LP_OUTCOME_ABORTED: return "aborted";
	default: return "resumed";
	}
}

const char *lp_action_name(lp_action a)
{
	switch (a) {
	case LP_ACTION_ABORT: return "abort";
	case LP_ACTION_TIMEOUT: return "timeout";
	default: return "resume";
	}
}

lp_outcome lp_action_outcome(lp_action a)
{
	switch (a) {
	case LP_ACTION_ABORT: return LP_OUTCOME_ABORTED;
	case LP_ACTION_TIMEOUT: return LP_OUTCOME_TIMED_OUT;
	default: return LP_OUTCOME_RESUMED;
	}
}

/* The action of a command file's "action" (LP_EBADCMD: none of ours). */
int lpi_action_parse(const char *s, lp_action *out)
{
	static const lp_action all[] = {LP_ACTION_RESUME, LP_ACTION_ABORT, LP_ACTION_TIMEOUT};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(s, lp_action_name(all[i])) == 0) {
			*out = all[i];
			return LP_OK;
		}
	return LP_EBADCMD;
}

const char *lp_state_name(lp_state state)
{
	switch (state) {
	case LP_STATE_PENDING: return "pending";
	case LP_STATE_STALE: return "stale";
	case LP_STATE_RESUMED: return "resumed";
	case LP_STATE_TIMED_OUT: return "timed_out";
	case LP_STATE_ABORTED: return "aborted";
	default: return "unknown";
	}
}

/* The typed state of a name (NULL or any other name: LP_STATE_UNKNOWN). */
lp_state lpi_state_parse(const char *name)
{
	for (int k = LP_STATE_PENDING; name && k < LP_STATE_UNKNOWN; k++)
		if (strcmp(name, lp_state_name((lp_state)k)) == 0)
			return (lp_state)k;
	return LP_STATE_UNKNOWN;
}

const char *lp_blob_state_name(lp_blob_state s)
{
	switch (s) {
	case LP_BLOB_OK: return "ok";
	case LP_BLOB_MISSING: return "missing";
	case LP_BLOB_CORRUPT: return "corrupt";
	default: return "unchecked";
	}
}
