/*
 * test_claim.c - claim.c, the command file: the typed format (action,
 * token; strict types), the seed format read as 0.1.1 read it (wrong
 * types and other-kind fields ignored), unknown fields ignored and
 * recorded in both, the action alone deciding the outcome (a "by" of
 * "abort" or "timeout" decides nothing), building (caps and the target's
 * protocol checked before writing), reading whatever sits at the claim's
 * name (socket, FIFO, directory), and, through pause.c, the token of the
 * command taken recorded in the pause file, lp_pause_abort and the
 * fallbacks when the claim cannot be written.
 */
#include "helpers.h"

#include <sys/socket.h>
#include <sys/un.h>

/* ------------------------------------------------------------- parsing */

static int parse(const char *text, lp_kind kind, lpi_command *c)
{
	return lpi_command_parse(text, strlen(text), kind, "command", c);
}

static char *ignored(const lpi_command *c)
{
	return lpj_dump(c->ignored);
}

static void refuse(const char *text, lp_kind kind, const char *why)
{
	lpi_command c;
	int rc = parse(text, kind, &c);
	if (rc != LP_EBADCMD || !strstr(lp_error_message(), why))
		fprintf(stderr, "%s: rc %d, message %s\n", text, rc, lp_error_message());
	assert_int_equal(rc, LP_EBADCMD);
	assert_non_null(strstr(lp_error_message(), why));
	assert_null(c.by);
	assert_null(c.token);
	assert_null(c.ignored);
}

static void test_typed_commands_are_strict(void **state)
{
	(void)state;
	lpi_command c;
	assert_int_equal(parse("{\"action\":\"resume\",\"token\":\"ab12\",\"by\":\"cli\","
			       "\"result\":true,\"reason\":\"ok\",\"pid\":1,\"protocol\":2}",
			       LP_KIND_CHECKPOINT, &c),
			 LP_OK);
	assert_true(c.typed);
	assert_int_equal(c.action, LP_ACTION_RESUME);
	assert_string_equal(c.token, "ab12");
	assert_string_equal(c.by, "cli");
	assert_int_equal(c.result, LP_RESULT_TRUE);
	assert_string_equal(c.reason, "ok");
	char *ig = ignored(&c);
	assert_string_equal(ig, "[]");
	free(ig);
	lpi_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"abort\"}", LP_KIND_FAILURE, &c), LP_OK);
	assert_int_equal(c.action, LP_ACTION_ABORT);
	lpi_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"timeout\"}", LP_KIND_CHECKPOINT, &c), LP_OK);
	assert_int_equal(c.action, LP_ACTION_TIMEOUT);
	lpi_command_clear(&c);
	/* each class of refusal, more than one instance */
	refuse("{\"action\":\"explode\"}", LP_KIND_FAILURE, "unknown action 'explode'");
	refuse("{\"action\":\"Resume\"}", LP_KIND_CHECKPOINT, "unknown action 'Resume'");
	refuse("{\"action\":5}", LP_KIND_FAILURE, "'action' must be a string");
	refuse("{\"action\":null}", LP_KIND_FAILURE, "'action' must be a string");
	refuse("{\"action\":\"resume\",\"failure_reason\":42}", LP_KIND_FAILURE,
	       "'failure_reason'");
	refuse("{\"action\":\"resume\",\"result\":\"yes\"}", LP_KIND_CHECKPOINT, "'result'");
	refuse("{\"action\":\"resume\",\"result\":1}", LP_KIND_CHECKPOINT, "'result'");
	refuse("{\"action\":\"resume\",\"reason\":[]}", LP_KIND_CHECKPOINT, "'reason'");
	refuse("{\"action\":\"resume\",\"by\":5}", LP_KIND_FAILURE, "'by'");
	refuse("{\"action\":\"resume\",\"by\":\"\"}", LP_KIND_FAILURE, "'by'");
	refuse("{\"action\":\"resume\",\"token\":\"../x\"}", LP_KIND_FAILURE, "'token'");
	refuse("{\"action\":\"resume\",\"token\":7}", LP_KIND_FAILURE, "'token'");
	refuse("{\"action\":\"resume\",\"pid\":\"1\"}", LP_KIND_FAILURE, "'pid'");
	refuse("{\"action\":\"resume\",\"failure_reason\":\"x\"}", LP_KIND_CHECKPOINT,
	       "the pause is a checkpoint");
	refuse("{\"action\":\"resume\",\"result\":true}", LP_KIND_FAILURE,
	       "the pause is a failure");
	/* not JSON, not an object, duplicates, over the cap */
	refuse("{\"action\":\"resume\"", LP_KIND_FAILURE, "not valid JSON");
	refuse("[1]", LP_KIND_FAILURE, "not a JSON object");
	refuse("{\"action\":\"resume\",\"action\":\"abort\"}", LP_KIND_FAILURE, "duplicate");
	char *big = malloc(LP_CAP_COMMAND + 64);
	memset(big, ' ', LP_CAP_COMMAND + 63);
	memcpy(big, "{}", 2);
	big[LP_CAP_COMMAND + 63] = '\0';
	refuse(big, LP_KIND_FAILURE, "over the limit");
	free(big);
}

/* Unknown fields are ignored and recorded, in both formats: a newer
 * writer's command is taken by an older paused process. */
static void test_unknown_fields_are_ignored_and_recorded(void **state)
{
	(void)state;
	const char *texts[] = {
		"{\"action\":\"resume\",\"failure_reason\":\"x\",\"future_field\":[1],\"zz\":{}}",
		"{\"failure_reason\":\"x\",\"future_field\":[1],\"zz\":{}}",
	};
	for (int i = 0; i < 2; i++) {
		lpi_command c;
		assert_int_equal(parse(texts[i], LP_KIND_FAILURE, &c), LP_OK);
		assert_string_equal(c.failure_reason, "x");
		char *ig = ignored(&c);
		assert_string_equal(ig, "[\"future_field\",\"zz\"]");
		free(ig);
		lpi_command_clear(&c);
	}
}

/* The seed format (no "action") takes what 0.1.1 took: a value of the
 * wrong type counts as null, a field of the other kind is ignored; both
 * recorded. */
static void test_seed_format_takes_what_0_1_1_took(void **state)
{
	(void)state;
	struct {
		const char *text;
		lp_kind kind;
		lp_result result;
		const char *failure_reason, *reason, *ignored;
	} cases[] = {
		{"{}", LP_KIND_FAILURE, LP_RESULT_NONE, NULL, NULL, "[]"},
		{"{\"failure_reason\":42}", LP_KIND_FAILURE, LP_RESULT_NONE, NULL, NULL,
		 "[\"failure_reason\"]"},
		{"{\"failure_reason\":[\"x\"]}", LP_KIND_FAILURE, LP_RESULT_NONE, NULL, NULL,
		 "[\"failure_reason\"]"},
		{"{\"result\":true,\"reason\":\"r\"}", LP_KIND_FAILURE, LP_RESULT_NONE, NULL, NULL,
		 "[\"result\",\"reason\"]"},
		{"{\"result\":\"true\"}", LP_KIND_CHECKPOINT, LP_RESULT_NONE, NULL, NULL,
		 "[\"result\"]"},
		{"{\"result\":1,\"reason\":5}", LP_KIND_CHECKPOINT, LP_RESULT_NONE, NULL, NULL,
		 "[\"result\",\"reason\"]"},
		{"{\"result\":false,\"failure_reason\":\"f\"}", LP_KIND_CHECKPOINT, LP_RESULT_FALSE,
		 NULL, NULL, "[\"failure_reason\"]"},
		{"{\"by\":5,\"pid\":\"x\",\"result\":true}", LP_KIND_CHECKPOINT, LP_RESULT_TRUE,
		 NULL, NULL, "[\"by\",\"pid\"]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lpi_command c;
		int rc = parse(cases[i].text, cases[i].kind, &c);
		if (rc)
			fprintf(stderr, "%s: %s\n", cases[i].text, lp_error_message());
		assert_int_equal(rc, LP_OK);
		assert_false(c.typed);
		assert_int_equal(c.action, LP_ACTION_RESUME);
		assert_int_equal(c.result, cases[i].result);
		assert_null(c.failure_reason);
		assert_null(c.reason);
		assert_null(c.by);
		char *ig = ignored(&c);
		assert_string_equal(ig, cases[i].ignored);
		free(ig);
		lpi_command_clear(&c);
	}
	/* still strictly parsed JSON */
	refuse("{\"result\":true,\"result\":false}", LP_KIND_CHECKPOINT, "duplicate");
	refuse("{\"result\":NaN}", LP_KIND_CHECKPOINT, "not valid JSON");
	refuse("{\"reason\":\"a\\u0000b\"}", LP_KIND_CHECKPOINT, "not valid JSON");
}

/* "by" is provenance only: without an action, any "by" resumes. */
static void test_by_decides_nothing(void **state)
{
	(void)state;
	const char *bys[] = {"abort", "timeout", "signal", "http"};
	for (size_t i = 0; i < 4; i++) {
		char text[128];
		snprintf(text, sizeof text, "{\"by\":\"%s\",\"failure_reason\":\"x\"}", bys[i]);
		lpi_command c;
		assert_int_equal(parse(text, LP_KIND_FAILURE, &c), LP_OK);
		assert_int_equal(c.action, LP_ACTION_RESUME);
		assert_string_equal(c.by, bys[i]);
		lpi_command_clear(&c);
	}
	assert_int_equal(lp_action_outcome(LP_ACTION_RESUME), LP_OUTCOME_RESUMED);
	assert_int_equal(lp_action_outcome(LP_ACTION_ABORT), LP_OUTCOME_ABORTED);
	assert_int_equal(lp_action_outcome(LP_ACTION_TIMEOUT), LP_OUTCOME_TIMED_OUT);
	assert_string_equal(lp_action_name(LP_ACTION_TIMEOUT), "timeout");
	/* NULL-safe as the header says */
	lp_resolution res = {0};
	assert_int_equal(lp_pause_abort(&res, NULL, "SIGINT"), LP_EINVAL);
	assert_int_equal(lp_pause_claim(&res, NULL, LP_ACTION_RESUME, "cli", NULL), LP_EINVAL);
	lpi_command_clear(NULL);
	lp_resolution_clear(NULL);
}

/* ------------------------------------------------------------ building */

static void test_build(void **state)
{
	(void)state;
	char token[LP_TOKEN_HEX + 1], *text;
	lpi_command_spec s = {.action = LP_ACTION_RESUME,
			      .by = "cli",
			      .result = LP_RESULT_FALSE,
			      .reason = "no",
			      .pause_protocol = LP_PROTOCOL_VERSION,
			      .pause_id = "r1.00000000"};
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
	assert_int_equal(strlen(token), LP_TOKEN_HEX);
	lpi_command c;
	assert_int_equal(parse(text, LP_KIND_CHECKPOINT, &c), LP_OK);
	assert_true(c.typed);
	assert_string_equal(c.token, token);
	assert_int_equal(c.result, LP_RESULT_FALSE);
	assert_string_equal(c.reason, "no");
	lpi_command_clear(&c);
	char first[LP_TOKEN_HEX + 1];
	memcpy(first, token, sizeof first);
	free(text);
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
	assert_string_not_equal(first, token); /* unique per command */
	free(text);

	/* an older paused process (ours of protocol 1, or 0.1.1 with none):
	 * the seed format, which both take; no action but resume */
	for (int proto = 0; proto < LP_PROTOCOL_TYPED; proto++) {
		s.pause_protocol = proto;
		assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
		assert_string_equal(token, "");
		assert_null(strstr(text, "\"action\""));
		assert_null(strstr(text, "\"token\""));
		free(text);
		s.action = LP_ACTION_ABORT;
		assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text),
				 LP_EINVAL);
		assert_non_null(strstr(lp_error_message(), "older pytest-live-pause"));
		assert_null(text);
		s.action = LP_ACTION_RESUME;
	}
	s.pause_protocol = LP_PROTOCOL_VERSION;

	/* over the paused process's cap, for either kind: refused before writing */
	size_t n = LP_CAP_COMMAND;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	s.reason = big;
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "its process accepts"));
	s.reason = NULL;
	s.failure_reason = big;
	assert_int_equal(lpi_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	/* escaping counts: 12,000 control characters are 72,000 bytes encoded */
	memset(big, '\x01', 12000);
	big[12000] = '\0';
	assert_int_equal(lpi_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	free(big);
	s.failure_reason = NULL;

	/* fields_json: only the allowed extras; what the take refuses is refused */
	s.fields_json = "{\"colour\":1}";
	assert_int_equal(lpi_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	s.fields_json = "{\"result\":\"yes\"}";
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	s.fields_json = "[1]";
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	s.fields_json = NULL;
	s.by = "";
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
}

/* --------------------------------------------- reading the claim's name */

static void test_read_odd_entries(void **state)
{
	fx *f = *state;
	char dir[256], path[320];
	fx_path(f, dir, sizeof dir, "runs/r1/commands");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	snprintf(path, sizeof path, "%s/x.resume.json", dir);
	lpi_command c;
	char *text;
	struct stat st;
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_NONE);
	/* a UNIX socket, a FIFO, a directory: each bad, with its type named */
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(sk, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a UNIX socket"));
	assert_true(S_ISSOCK(st.st_mode));
	close(sk);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a FIFO"));
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a directory"));
	rmdir(path);
	/* a fresh partial file is given time; an old one is bad */
	assert_int_equal(write_text(path, "{\"failure_", 10), 0);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_RETRY);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 0, &c, &text, &st),
		LP_CLAIM_BAD);
	/* a valid one */
	assert_int_equal(write_text(path, "{\"failure_reason\":\"y\"}", 22), 0);
	assert_int_equal(
		lpi_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
		LP_CLAIM_TAKEN);
	assert_string_equal(c.failure_reason, "y");
	lpi_command_clear(&c);
	free(text);
	close(dfd);
}

/* ------------------------------------------------ through pause.c */

static char *pause_file_text(lp_pause *p)
{
	return slurp(lp_pause_path(p));
}

/* A claim with by "abort" but the resume action resumes: the old
 * free-text decision is gone. */
static void test_claim_action_decides(void **state)
{
	fx *f = *state;
	const char *bys[] = {"abort", "timeout"};
	for (int i = 0; i < 2; i++) {
		lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 30);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_claim(&res, p, LP_ACTION_RESUME, bys[i],
						"{\"failure_reason\":\"r\"}"),
				 LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
		assert_int_equal(res.action, LP_ACTION_RESUME);
		assert_string_equal(res.by, bys[i]);
		assert_true(res.own);
		assert_non_null(res.token);
		char *doc = pause_file_text(p);
		char want[96];
		snprintf(want, sizeof want, "\"resolved_token\":\"%s\"", res.token);
		assert_non_null(strstr(doc, want));
		assert_non_null(strstr(doc, "\"status\":\"resumed\""));
		assert_non_null(strstr(doc, "\"resolved_action\":\"resume\""));
		assert_non_null(strstr(doc, "\"resolved_ignored\":[]"));
		free(doc);
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
	/* lp_pause_abort: aborted, with the signal */
	const char *sigs[] = {"SIGINT", NULL};
	for (int i = 0; i < 2; i++) {
		lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, 30);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_abort(&res, p, sigs[i]), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
		assert_int_equal(res.action, LP_ACTION_ABORT);
		assert_non_null(strstr(res.command_json,
				       sigs[i] ? "\"signal\":\"SIGINT\"" : "\"signal\":null"));
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
}

/* A command written by hand with unknown fields is taken; the fields are
 * recorded in the pause file and the event. */
static void test_take_records_ignored(void **state)
{
	fx *f = *state;
	const char *texts[] = {"{\"failure_reason\":\"hand\",\"attach\":1}",
			       "{\"action\":\"resume\",\"failure_reason\":\"hand\",\"attach\":1}"};
	for (int i = 0; i < 2; i++) {
		lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 30);
		char path[320];
		fx_path(f, path, sizeof path, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
		assert_int_equal(write_text(path, texts[i], strlen(texts[i])), 0);
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
		assert_string_equal(res.failure_reason, "hand");
		assert_string_equal(res.ignored_json, "[\"attach\"]");
		assert_string_equal(res.by, "file");
		assert_null(res.token);
		char *doc = pause_file_text(p);
		assert_non_null(strstr(doc, "\"resolved_ignored\":[\"attach\"]"));
		assert_non_null(strstr(doc, "\"resolved_token\":null"));
		free(doc);
		char ev[256];
		fx_path(f, ev, sizeof ev, "runs/r1/events.jsonl");
		char *events = slurp(ev);
		assert_true(count_substr(events, "\"ignored\":[\"attach\"]") == i + 1);
		free(events);
		lp_resolution_clear(&res);
		lp_pause_free(p);
	}
}

/* The deadline with commands/ gone (the run directory deleted while
 * paused): the pause ends timed out all the same, unclaimed, and says so;
 * likewise an abort. Never an error into the caller. */
static void test_claim_without_commands_dir(void **state)
{
	fx *f = *state;
	for (int i = 0; i < 2; i++) {
		lp_pause *p = fx_pause(f, LP_KIND_CHECKPOINT, i == 0 ? 0.2 : 30);
		char dir[256];
		fx_path(f, dir, sizeof dir, "runs/%s", lp_run_id(f->run));
		rm_rf(dir);
		lp_resolution res = {0};
		int rc = i == 0 ? lp_pause_wait(&res, p, NULL) : lp_pause_abort(&res, p, "SIGTERM");
		if (rc)
			fprintf(stderr, "%s\n", lp_error_message());
		assert_int_equal(rc, LP_OK);
		assert_int_equal(res.outcome, i == 0 ? LP_OUTCOME_TIMED_OUT : LP_OUTCOME_ABORTED);
		assert_non_null(res.warning);
		assert_non_null(strstr(res.warning, "without a claim file"));
		assert_non_null(strstr(res.warning, "could not be recorded"));
		assert_true(res.own);
		lp_resolution_clear(&res);
		lp_pause_free(p);
		/* a fresh run for the next round */
		lp_run_free(f->run);
		lp_run_options ro = LP_RUN_OPTIONS_INIT;
		ro.run_id = i == 0 ? "r2" : "r3";
		assert_int_equal(lp_run_start(&f->run, f->store, &ro), LP_OK);
	}
}

/* ------------------------------------------- typed answers, abort reason */

/* "value" (protocol 3): a string or null for checkpoints and questions,
 * refused on a failure in a typed command and ignored in the seed format;
 * "result" refused on a question; an abort's "reason" fits every kind. */
static void test_value_and_abort_reason_fields(void **state)
{
	(void)state;
	lpi_command c;
	assert_int_equal(parse("{\"action\":\"resume\",\"value\":\"retry\",\"result\":true}",
			       LP_KIND_CHECKPOINT, &c),
			 LP_OK);
	assert_string_equal(c.value, "retry");
	assert_int_equal(c.result, LP_RESULT_TRUE);
	lpi_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"resume\",\"value\":\"4.2\",\"reason\":\"read off\"}",
			       LP_KIND_QUESTION, &c),
			 LP_OK);
	assert_string_equal(c.value, "4.2");
	assert_string_equal(c.reason, "read off");
	lpi_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"resume\",\"value\":null}", LP_KIND_QUESTION, &c),
			 LP_OK);
	assert_null(c.value);
	lpi_command_clear(&c);
	/* an abort's reason, for each kind */
	lp_kind kinds[] = {LP_KIND_FAILURE, LP_KIND_CHECKPOINT, LP_KIND_QUESTION};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			parse("{\"action\":\"abort\",\"reason\":\"device lost\"}", kinds[i], &c),
			LP_OK);
		assert_int_equal(c.action, LP_ACTION_ABORT);
		assert_string_equal(c.reason, "device lost");
		lpi_command_clear(&c);
	}
	/* refusals: the wrong kind, the wrong type, more than one instance */
	refuse("{\"action\":\"resume\",\"value\":\"x\"}", LP_KIND_FAILURE,
	       "has 'value' but the pause is a failure");
	refuse("{\"action\":\"resume\",\"reason\":\"x\"}", LP_KIND_FAILURE,
	       "has 'reason' but the pause is a failure");
	refuse("{\"action\":\"resume\",\"result\":true}", LP_KIND_QUESTION,
	       "has 'result' but the pause is a question");
	refuse("{\"action\":\"resume\",\"value\":\"4\",\"result\":false}", LP_KIND_QUESTION,
	       "has 'result' but the pause is a question");
	refuse("{\"action\":\"resume\",\"failure_reason\":\"x\"}", LP_KIND_QUESTION,
	       "has 'failure_reason' but the pause is a question");
	refuse("{\"action\":\"resume\",\"value\":5}", LP_KIND_QUESTION, "'value' must be a string");
	refuse("{\"action\":\"resume\",\"value\":[\"a\"]}", LP_KIND_CHECKPOINT, "'value'");
	/* the seed format ignores what does not fit, and records it */
	assert_int_equal(parse("{\"value\":\"x\",\"failure_reason\":\"f\"}", LP_KIND_FAILURE, &c),
			 LP_OK);
	assert_null(c.value);
	char *ig = ignored(&c);
	assert_string_equal(ig, "[\"value\"]");
	free(ig);
	lpi_command_clear(&c);
}

/* lpi_command_fits: a value must be one of the pause's choices; a
 * checkpoint without choices takes none. */
static void test_value_fits_choices(void **state)
{
	(void)state;
	lp_json *choices;
	assert_int_equal(lpj_parse_any("[\"pass\",\"retry\",\"skip\"]",
				       strlen("[\"pass\",\"retry\",\"skip\"]"), &choices),
			 LP_OK);
	lpi_command c;
	assert_int_equal(
		parse("{\"action\":\"resume\",\"value\":\"retry\"}", LP_KIND_CHECKPOINT, &c),
		LP_OK);
	assert_int_equal(lpi_command_fits(&c, LP_KIND_CHECKPOINT, choices, "cmd"), LP_OK);
	assert_int_equal(lpi_command_fits(&c, LP_KIND_CHECKPOINT, NULL, "cmd"), LP_EBADCMD);
	assert_non_null(strstr(lp_error_message(), "has no choices"));
	lpi_command_clear(&c);
	const char *bad[] = {"{\"action\":\"resume\",\"value\":\"Retry\"}",
			     "{\"action\":\"resume\",\"value\":\"\"}", "{\"value\":\"pass \"}"};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(parse(bad[i], LP_KIND_CHECKPOINT, &c), LP_OK);
		assert_int_equal(lpi_command_fits(&c, LP_KIND_CHECKPOINT, choices, "cmd"),
				 LP_EBADCMD);
		assert_non_null(strstr(lp_error_message(),
				       "is not one of the choices 'pass', 'retry', 'skip'"));
		lpi_command_clear(&c);
	}
	/* a question without choices takes any text; with choices, one of them */
	assert_int_equal(
		parse("{\"action\":\"resume\",\"value\":\"anything\"}", LP_KIND_QUESTION, &c),
		LP_OK);
	assert_int_equal(lpi_command_fits(&c, LP_KIND_QUESTION, NULL, "cmd"), LP_OK);
	assert_int_equal(lpi_command_fits(&c, LP_KIND_QUESTION, choices, "cmd"), LP_EBADCMD);
	lpi_command_clear(&c);
	/* no value, or an abort: nothing to check */
	assert_int_equal(parse("{\"action\":\"abort\",\"reason\":\"x\"}", LP_KIND_CHECKPOINT, &c),
			 LP_OK);
	assert_int_equal(lpi_command_fits(&c, LP_KIND_CHECKPOINT, choices, "cmd"), LP_OK);
	lpi_command_clear(&c);
	lpj_free(choices);
}

/* Building: the value and an abort's reason are written; a pause of an
 * older protocol is refused both, nothing built; a value outside the
 * choices is refused before writing. */
static void test_build_value_and_abort(void **state)
{
	(void)state;
	char token[LP_TOKEN_HEX + 1], *text;
	lp_json *choices;
	assert_int_equal(lpj_parse_any("[\"a\",\"b\"]", strlen("[\"a\",\"b\"]"), &choices), LP_OK);
	lpi_command_spec s = {.action = LP_ACTION_RESUME,
			      .by = "cli",
			      .result = LP_RESULT_NONE,
			      .pause_protocol = LP_PROTOCOL_VERSION,
			      .pause_id = "r1.00000000",
			      .value = "b",
			      .choices = choices};
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
	assert_non_null(strstr(text, "\"value\":\"b\""));
	free(text);
	s.value = "c";
	assert_int_equal(lpi_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "nothing written"));
	assert_null(text);
	/* a question: value, no result */
	s.choices = NULL;
	s.value = "42";
	assert_int_equal(lpi_command_build(LP_KIND_QUESTION, &s, token, &text), LP_OK);
	assert_non_null(strstr(text, "\"value\":\"42\""));
	assert_null(strstr(text, "\"result\""));
	free(text);
	/* abort with a reason, each kind */
	s.value = NULL;
	s.action = LP_ACTION_ABORT;
	s.reason = "device lost";
	lp_kind kinds[] = {LP_KIND_FAILURE, LP_KIND_CHECKPOINT, LP_KIND_QUESTION};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lpi_command_build(kinds[i], &s, token, &text), LP_OK);
		assert_non_null(strstr(text, "\"reason\":\"device lost\""));
		assert_non_null(strstr(text, "\"action\":\"abort\""));
		free(text);
	}
	/* protocol 2 (typed, but no answers): abort and value refused */
	s.pause_protocol = LP_PROTOCOL_ANSWERS - 1;
	assert_int_equal(lpi_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "cannot stop its run on abort"));
	s.action = LP_ACTION_RESUME;
	s.reason = NULL;
	s.value = "42";
	assert_int_equal(lpi_command_build(LP_KIND_QUESTION, &s, token, &text), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "takes no --value"));
	assert_null(text);
	lpj_free(choices);
}

static int stop_now(void *ud)
{
	(void)ud;
	return 1;
}

/* Through pause.c: a question with choices. A value outside them, an
 * unknown action and a wrong type are moved aside, never consumed; the
 * pause keeps waiting and takes the valid one; the pause file records
 * choices, question, location and value. */
static void test_question_takes_a_valid_value(void **state)
{
	fx *f = *state;
	const char *choices[] = {"yes", "no", NULL};
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.kind = LP_KIND_QUESTION;
	o.nodeid = "tests/test_x.py::test_y";
	o.task = "Is the LED green?";
	o.timeout = 30;
	o.choices = choices;
	o.location = "tests/test_x.py:12";
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_OK);
	char *doc = pause_file_text(p);
	assert_non_null(strstr(doc, "\"kind\":\"question\""));
	assert_non_null(strstr(doc, "\"question\":\"Is the LED green?\""));
	assert_non_null(strstr(doc, "\"choices\":[\"yes\",\"no\"]"));
	assert_non_null(strstr(doc, "\"location\":\"tests/test_x.py:12\""));
	assert_non_null(strstr(doc, "--value 'yes|no'"));
	free(doc);
	char path[320], dir[256];
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
	fx_path(f, dir, sizeof dir, "runs/r1/commands");
	const char *bad[] = {"{\"action\":\"resume\",\"value\":\"maybe\"}",
			     "{\"action\":\"explode\",\"value\":\"yes\"}",
			     "{\"action\":\"resume\",\"value\":true}"};
	char rejected[LP_ID_MAX + 32];
	snprintf(rejected, sizeof rejected, "%s.resume.json.rejected.", lp_pause_id(p));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write_text(path, bad[i], strlen(bad[i])), 0);
		backdate(path, 5); /* not a writer's partial file */
		/* one look (the bad entry is moved aside), then stop */
		lp_wait_hooks h = LP_WAIT_HOOKS_INIT;
		h.check = stop_now;
		h.slice_ms = 10;
		lp_resolution res = {0};
		assert_int_equal(lp_pause_wait(&res, p, &h), LP_EINTR);
		assert_false(exists(path));
		assert_int_equal(count_entries(dir, rejected), i + 1);
		assert_pause_status(f->store, lp_pause_id(p), "pending");
	}
	const char *good = "{\"action\":\"resume\",\"value\":\"no\",\"reason\":\"red\"}";
	assert_int_equal(write_text(path, good, strlen(good)), 0);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_RESUMED);
	assert_string_equal(res.value, "no");
	assert_string_equal(res.reason, "red");
	assert_int_equal(res.result, LP_RESULT_NONE);
	lp_resolution_clear(&res);
	lp_pause_info *info = NULL;
	assert_int_equal(lp_pause_info_load(&info, f->store, lp_pause_id(p)), LP_OK);
	assert_int_equal(info->kind_code, LP_KIND_QUESTION);
	assert_string_equal(info->question, "Is the LED green?");
	assert_int_equal(info->nchoices, 2);
	assert_string_equal(info->choices[1], "no");
	assert_string_equal(info->location, "tests/test_x.py:12");
	assert_string_equal(info->value, "no");
	assert_int_equal(info->protocol, LP_PROTOCOL_VERSION);
	lp_pause_info_free(info);
	lp_pause_free(p);
}

/* An abort command of another process ends a failure pause aborted with
 * its reason recorded and stops the run (once: the first reason kept),
 * which lp_run_aborted() sees in this process and a joined one; the
 * process's own abort (Ctrl-C) does not stop the run. */
static void test_abort_reason_and_run_stop(void **state)
{
	fx *f = *state;
	char *nodeid = NULL, *reason = NULL;
	/* the process's own abort (Ctrl-C, SIGTERM) does not stop the run */
	lp_pause *own = fx_pause(f, LP_KIND_CHECKPOINT, 30);
	lp_resolution res = {0};
	assert_int_equal(lp_pause_abort(&res, own, "SIGINT"), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
	lp_resolution_clear(&res);
	lp_pause_free(own);
	assert_int_equal(lp_run_aborted(f->run, &nodeid, &reason), 0);
	/* another process's abort command: aborted with its reason, and the
	 * run is stopped before the pause file is final */
	lp_pause *p = fx_pause(f, LP_KIND_FAILURE, 30);
	char path[320];
	fx_path(f, path, sizeof path, "runs/r1/commands/%s.resume.json", lp_pause_id(p));
	const char *cmd = "{\"action\":\"abort\",\"by\":\"cli\",\"reason\":\"device lost\"}";
	assert_int_equal(write_text(path, cmd, strlen(cmd)), 0);
	assert_int_equal(lp_pause_wait(&res, p, NULL), LP_OK);
	assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
	assert_string_equal(res.reason, "device lost");
	assert_null(res.warning);
	char *doc = pause_file_text(p);
	assert_non_null(strstr(doc, "\"status\":\"aborted\""));
	assert_non_null(strstr(doc, "\"reason\":\"device lost\""));
	free(doc);
	/* a later stop keeps the first */
	assert_int_equal(lp_run_abort(f->run, "r1.00000000", "t.py::b", "second"), LP_OK);
	lp_resolution_clear(&res);
	lp_pause_free(p);
	lp_run *worker = NULL;
	lp_run_options ro = LP_RUN_OPTIONS_INIT;
	ro.run_id = "r1";
	ro.worker_id = "gw1";
	assert_int_equal(lp_run_join(&worker, f->store, &ro), LP_OK);
	lp_run *both[] = {f->run, worker};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(lp_run_aborted(both[i], &nodeid, &reason), 1);
		assert_string_equal(nodeid, "tests/test_x.py::test_y");
		assert_string_equal(reason, "device lost");
		free(nodeid);
		free(reason);
	}
	lp_run_free(worker);
	char ev[256];
	fx_path(f, ev, sizeof ev, "runs/r1/events.jsonl");
	char *events = slurp(ev);
	assert_int_equal(count_substr(events, "\"run_aborted\""), 1);
	free(events);
	assert_int_equal(lp_run_abort(NULL, NULL, NULL, NULL), LP_EINVAL);
	assert_int_equal(lp_run_aborted(NULL, &nodeid, &reason), LP_EINVAL);
}

/* Bad choices are refused before anything is written. */
static void test_bad_choices_refused(void **state)
{
	fx *f = *state;
	char big[LP_CAP_CHOICE + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	const char *empty[] = {NULL}, *blank[] = {"a", "", NULL}, *dup[] = {"a", "b", "a", NULL},
		   *huge[] = {big, NULL}, *bad_utf8[] = {"\xff", NULL};
	const char *const *lists[] = {empty, blank, dup, huge, bad_utf8};
	const char *why[] = {"choices is empty", "is empty or over", "given twice",
			     "is empty or over", "not valid UTF-8"};
	for (int i = 0; i < 5; i++) {
		lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
		o.kind = LP_KIND_CHECKPOINT;
		o.nodeid = "t.py::a";
		o.task = "pick";
		o.choices = lists[i];
		lp_pause *p = NULL;
		assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
		if (!strstr(lp_error_message(), why[i]))
			fprintf(stderr, "%d: %s\n", i, lp_error_message());
		assert_non_null(strstr(lp_error_message(), why[i]));
		assert_null(p);
	}
	char dir[256];
	fx_path(f, dir, sizeof dir, "runs/r1/pauses");
	assert_int_equal(count_entries(dir, "r1."), 0);
	/* a failure takes no choices */
	const char *ok[] = {"a", NULL};
	lp_pause_options o = LP_PAUSE_OPTIONS_INIT;
	o.nodeid = "t.py::a";
	o.choices = ok;
	lp_pause *p = NULL;
	assert_int_equal(lp_pause_begin(&p, f->run, &o), LP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_commands_are_strict),
		cmocka_unit_test(test_unknown_fields_are_ignored_and_recorded),
		cmocka_unit_test(test_seed_format_takes_what_0_1_1_took),
		cmocka_unit_test(test_by_decides_nothing),
		cmocka_unit_test(test_build),
		cmocka_unit_test_setup_teardown(test_read_odd_entries, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_claim_action_decides, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_take_records_ignored, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_claim_without_commands_dir, fx_setup_run,
						fx_teardown),
		cmocka_unit_test(test_value_and_abort_reason_fields),
		cmocka_unit_test(test_value_fits_choices),
		cmocka_unit_test(test_build_value_and_abort),
		cmocka_unit_test_setup_teardown(test_question_takes_a_valid_value, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_abort_reason_and_run_stop, fx_setup_run,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_choices_refused, fx_setup_run,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
