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

static int parse(const char *text, lp_kind kind, lp_command *c)
{
	return lp_command_parse(text, strlen(text), kind, "command", c);
}

static char *ignored(const lp_command *c)
{
	return lpj_dump(c->ignored);
}

static void refuse(const char *text, lp_kind kind, const char *why)
{
	lp_command c;
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
	lp_command c;
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
	lp_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"abort\"}", LP_KIND_FAILURE, &c), LP_OK);
	assert_int_equal(c.action, LP_ACTION_ABORT);
	lp_command_clear(&c);
	assert_int_equal(parse("{\"action\":\"timeout\"}", LP_KIND_CHECKPOINT, &c), LP_OK);
	assert_int_equal(c.action, LP_ACTION_TIMEOUT);
	lp_command_clear(&c);
	/* each class of refusal, more than one instance */
	refuse("{\"action\":\"explode\"}", LP_KIND_FAILURE, "unknown action 'explode'");
	refuse("{\"action\":\"Resume\"}", LP_KIND_CHECKPOINT, "unknown action 'Resume'");
	refuse("{\"action\":5}", LP_KIND_FAILURE, "'action' must be a string");
	refuse("{\"action\":null}", LP_KIND_FAILURE, "'action' must be a string");
	refuse("{\"action\":\"resume\",\"failure_reason\":42}", LP_KIND_FAILURE, "'failure_reason'");
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
	refuse("{\"action\":\"resume\",\"result\":true}", LP_KIND_FAILURE, "the pause is a failure");
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
		"{\"action\":\"resume\",\"failure_reason\":\"x\",\"attachments\":[1],\"zz\":{}}",
		"{\"failure_reason\":\"x\",\"attachments\":[1],\"zz\":{}}",
	};
	for (int i = 0; i < 2; i++) {
		lp_command c;
		assert_int_equal(parse(texts[i], LP_KIND_FAILURE, &c), LP_OK);
		assert_string_equal(c.failure_reason, "x");
		char *ig = ignored(&c);
		assert_string_equal(ig, "[\"attachments\",\"zz\"]");
		free(ig);
		lp_command_clear(&c);
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
		{"{\"result\":\"true\"}", LP_KIND_CHECKPOINT, LP_RESULT_NONE, NULL, NULL, "[\"result\"]"},
		{"{\"result\":1,\"reason\":5}", LP_KIND_CHECKPOINT, LP_RESULT_NONE, NULL, NULL,
		 "[\"result\",\"reason\"]"},
		{"{\"result\":false,\"failure_reason\":\"f\"}", LP_KIND_CHECKPOINT, LP_RESULT_FALSE, NULL,
		 NULL, "[\"failure_reason\"]"},
		{"{\"by\":5,\"pid\":\"x\",\"result\":true}", LP_KIND_CHECKPOINT, LP_RESULT_TRUE, NULL,
		 NULL, "[\"by\",\"pid\"]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lp_command c;
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
		lp_command_clear(&c);
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
		lp_command c;
		assert_int_equal(parse(text, LP_KIND_FAILURE, &c), LP_OK);
		assert_int_equal(c.action, LP_ACTION_RESUME);
		assert_string_equal(c.by, bys[i]);
		lp_command_clear(&c);
	}
	assert_int_equal(lp_action_outcome(LP_ACTION_RESUME), LP_OUTCOME_RESUMED);
	assert_int_equal(lp_action_outcome(LP_ACTION_ABORT), LP_OUTCOME_ABORTED);
	assert_int_equal(lp_action_outcome(LP_ACTION_TIMEOUT), LP_OUTCOME_TIMED_OUT);
	assert_string_equal(lp_action_name(LP_ACTION_TIMEOUT), "timeout");
	/* NULL-safe as the header says */
	lp_resolution res = {0};
	assert_int_equal(lp_pause_abort(NULL, "SIGINT", &res), LP_EINVAL);
	assert_int_equal(lp_pause_claim(NULL, LP_ACTION_RESUME, "cli", NULL, &res), LP_EINVAL);
	lp_command_clear(NULL);
	lp_resolution_clear(NULL);
}

/* ------------------------------------------------------------ building */

static void test_build(void **state)
{
	(void)state;
	char token[LP_TOKEN_HEX + 1], *text;
	lp_command_spec s = {LP_ACTION_RESUME, "cli", NULL, LP_RESULT_FALSE, "no", NULL,
			     LP_PROTOCOL_VERSION, "r1.00000000"};
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
	assert_int_equal(strlen(token), LP_TOKEN_HEX);
	lp_command c;
	assert_int_equal(parse(text, LP_KIND_CHECKPOINT, &c), LP_OK);
	assert_true(c.typed);
	assert_string_equal(c.token, token);
	assert_int_equal(c.result, LP_RESULT_FALSE);
	assert_string_equal(c.reason, "no");
	lp_command_clear(&c);
	char first[LP_TOKEN_HEX + 1];
	memcpy(first, token, sizeof first);
	free(text);
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
	assert_string_not_equal(first, token); /* unique per command */
	free(text);

	/* an older paused process (ours of protocol 1, or 0.1.1 with none):
	 * the seed format, which both take; no action but resume */
	for (int proto = 0; proto < LP_PROTOCOL_TYPED; proto++) {
		s.pause_protocol = proto;
		assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_OK);
		assert_string_equal(token, "");
		assert_null(strstr(text, "\"action\""));
		assert_null(strstr(text, "\"token\""));
		free(text);
		s.action = LP_ACTION_ABORT;
		assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
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
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	assert_non_null(strstr(lp_error_message(), "its process accepts"));
	s.reason = NULL;
	s.failure_reason = big;
	assert_int_equal(lp_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	/* escaping counts: 12,000 control characters are 72,000 bytes encoded */
	memset(big, '\x01', 12000);
	big[12000] = '\0';
	assert_int_equal(lp_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	free(big);
	s.failure_reason = NULL;

	/* fields_json: only the allowed extras; what the take refuses is refused */
	s.fields_json = "{\"colour\":1}";
	assert_int_equal(lp_command_build(LP_KIND_FAILURE, &s, token, &text), LP_EINVAL);
	s.fields_json = "{\"result\":\"yes\"}";
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	s.fields_json = "[1]";
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
	s.fields_json = NULL;
	s.by = "";
	assert_int_equal(lp_command_build(LP_KIND_CHECKPOINT, &s, token, &text), LP_EINVAL);
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
	lp_command c;
	char *text;
	struct stat st;
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_NONE);
	/* a UNIX socket, a FIFO, a directory: each bad, with its type named */
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(sk, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a UNIX socket"));
	assert_true(S_ISSOCK(st.st_mode));
	close(sk);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a FIFO"));
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_BAD);
	assert_non_null(strstr(lp_error_message(), "a directory"));
	rmdir(path);
	/* a fresh partial file is given time; an old one is bad */
	assert_int_equal(write_text(path, "{\"failure_", 10), 0);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_RETRY);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 0, &c, &text, &st),
			 LP_CLAIM_BAD);
	/* a valid one */
	assert_int_equal(write_text(path, "{\"failure_reason\":\"y\"}", 22), 0);
	assert_int_equal(lp_claim_read(dfd, "x.resume.json", LP_KIND_FAILURE, "cmd", 1, &c, &text, &st),
			 LP_CLAIM_TAKEN);
	assert_string_equal(c.failure_reason, "y");
	lp_command_clear(&c);
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
		assert_int_equal(lp_pause_claim(p, LP_ACTION_RESUME, bys[i], "{\"failure_reason\":\"r\"}",
						&res),
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
		assert_int_equal(lp_pause_abort(p, sigs[i], &res), LP_OK);
		assert_int_equal(res.outcome, LP_OUTCOME_ABORTED);
		assert_int_equal(res.action, LP_ACTION_ABORT);
		assert_non_null(strstr(res.command_json, sigs[i] ? "\"signal\":\"SIGINT\"" : "\"signal\":null"));
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
		assert_int_equal(lp_pause_wait(p, NULL, &res), LP_OK);
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
		int rc = i == 0 ? lp_pause_wait(p, NULL, &res) : lp_pause_abort(p, "SIGTERM", &res);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_commands_are_strict),
		cmocka_unit_test(test_unknown_fields_are_ignored_and_recorded),
		cmocka_unit_test(test_seed_format_takes_what_0_1_1_took),
		cmocka_unit_test(test_by_decides_nothing),
		cmocka_unit_test(test_build),
		cmocka_unit_test_setup_teardown(test_read_odd_entries, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_claim_action_decides, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_take_records_ignored, fx_setup_run, fx_teardown),
		cmocka_unit_test_setup_teardown(test_claim_without_commands_dir, fx_setup_run,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
