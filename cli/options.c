/*
 * options.c - option tables: getopt_long wiring built from a table of
 * cli_option rows, the one table of the options every subcommand shares
 * (--json, --pause-dir, -h/--help: merged into each command's table and
 * handled here), the --help text rendered from the same tables, and the
 * checks shared by every command (seconds, --pause-dir, positional
 * arguments, opening the pause directory for reading).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The options every subcommand may take, in the order --help lists them
 * after the command's own (a row's help of NULL: the command's json_help). */
static const struct {
	unsigned flag; /* CLI_COMMON_*, 0: every command */
	struct cli_option opt;
} common_options[] = {
	{CLI_COMMON_JSON, {"json", CLI_KEY_JSON, no_argument, NULL, NULL}},
	{CLI_COMMON_PAUSE_DIR, CLI_OPT_PAUSE_DIR},
	{0, CLI_OPT_HELP},
};
#define NCOMMON (sizeof(common_options) / sizeof(common_options[0]))

static int takes(const struct cli_spec *spec, size_t i)
{
	return common_options[i].flag == 0 || (spec->common & common_options[i].flag);
}

/* Add one row to the getopt_long tables; -1 when they are full. */
static int add_option(struct cli_parser *p, size_t *n, size_t *s, const struct cli_option *o)
{
	if (*n == CLI_OPTIONS_MAX)
		return -1;
	p->longopts[*n].name = o->name;
	p->longopts[*n].has_arg = o->has_arg;
	p->longopts[*n].flag = NULL;
	p->longopts[*n].val = o->key;
	(*n)++;
	if (o->key < 256) {
		p->shortopts[(*s)++] = (char)o->key;
		if (o->has_arg == required_argument)
			p->shortopts[(*s)++] = ':';
	}
	return 0;
}

static void parser_reset(struct cli_parser *p, const char *cmd, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->exit_code = CLI_EXIT_USAGE;
}

int cli_parser_init(struct cli_parser *p, const char *cmd, const struct cli_option *opts, int argc,
		    char **argv, int stop_at_command)
{
	size_t n = 0, s = 0;

	parser_reset(p, cmd, argc, argv);
	if (stop_at_command)
		p->shortopts[s++] = '+';
	p->shortopts[s++] = ':'; /* report a missing argument as ':' */
	for (; opts->name; opts++)
		if (add_option(p, &n, &s, opts) != 0)
			return -1;
	p->shortopts[s] = '\0';
	opterr = 0; /* errors are ours: one line in our format */
	optind = 0; /* full re-initialisation of glibc's getopt */
	return 0;
}

int cli_command_init(struct cli_parser *p, const struct cli_spec *spec, struct cli_common *common,
		     int argc, char **argv)
{
	static const struct cli_option none[] = {CLI_OPT_END};
	size_t i, n = 0, s = 0;

	if (cli_parser_init(p, spec->name, spec->opts ? spec->opts : none, argc, argv, 0) != 0)
		return -1;
	for (; p->longopts[n].name; n++)
		;
	s = strlen(p->shortopts);
	for (i = 0; i < NCOMMON; i++)
		if (takes(spec, i) && add_option(p, &n, &s, &common_options[i].opt) != 0)
			return -1;
	p->shortopts[s] = '\0';
	p->spec = spec;
	p->common = common;
	memset(common, 0, sizeof(*common));
	return 0;
}

/* A common option of a cli_command_init() parser: 0 when handled, -1 to
 * stop (p->exit_code set), 1 when `key` is the command's own. */
static int handle_common(struct cli_parser *p, int key, const char *arg)
{
	switch (key) {
	case 'h':
		cli_print_spec_help(stdout, p->spec);
		p->exit_code = CLI_EXIT_OK;
		return -1;
	case CLI_KEY_PAUSE_DIR:
		if (!(p->spec->common & CLI_COMMON_PAUSE_DIR))
			return 1;
		if (cli_check_pause_dir(p->cmd, arg))
			return -1;
		p->common->pause_dir = arg;
		return 0;
	case CLI_KEY_JSON:
		if (!(p->spec->common & CLI_COMMON_JSON))
			return 1;
		p->common->json = 1;
		return 0;
	}
	return 1;
}

int cli_ref_argument(const struct cli_parser *p, const char **ref)
{
	*ref = NULL;
	if (cli_check_positionals(p->cmd, p->argc, p->argv, optind, 1,
				  "<pause_id | pause file> argument"))
		return CLI_EXIT_USAGE;
	if (!*p->argv[optind])
		return cli_error(p->cmd, CLI_EXIT_USAGE, "the pause id or pause file is empty");
	*ref = p->argv[optind];
	return 0;
}

int cli_parser_next(struct cli_parser *p, const char **arg)
{
	int c, rc;

again:
	c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
	*arg = NULL;
	if (c == -1)
		return 0;
	if (c == '?') {
		/* A known short option cannot fail: so either an unknown short
		 * option, or a long one (optopt is 0 when unknown or ambiguous,
		 * its key when it was given a value it does not take). */
		if (optopt > 0 && optopt < 256 &&
		    (optopt == ':' || optopt == '+' || !strchr(p->shortopts, optopt)))
			cli_error(p->cmd, CLI_EXIT_USAGE, "unknown option '-%c'", optopt);
		else if (optopt == 0)
			cli_error(p->cmd, CLI_EXIT_USAGE, "unknown or ambiguous option '%s'",
				  p->argv[optind - 1]);
		else
			cli_error(p->cmd, CLI_EXIT_USAGE, "option '%s' takes no value",
				  p->argv[optind - 1]);
		return -1;
	}
	if (c == ':') {
		cli_error(p->cmd, CLI_EXIT_USAGE, "option '%s' needs a value", p->argv[optind - 1]);
		return -1;
	}
	*arg = optarg;
	if (p->spec && (rc = handle_common(p, c, optarg)) <= 0) {
		if (rc < 0)
			return -1;
		goto again;
	}
	return c;
}

/* Width of the option column in --help; longer ones wrap to a new line. */
#define OPT_COLUMN 28

static void print_option(FILE *fp, const struct cli_option *o)
{
	char left[80];
	const char *h;
	int n;

	if (o->key < 256)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->key, o->name);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->name);
	if (o->metavar && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->metavar);
	if (strlen(left) + 2 > OPT_COLUMN)
		fprintf(fp, "%s\n%*s", left, OPT_COLUMN, "");
	else
		fprintf(fp, "%-*s", OPT_COLUMN, left);
	for (h = o->help; *h; h++) {
		fputc(*h, fp);
		if (*h == '\n')
			fprintf(fp, "%*s", OPT_COLUMN, "");
	}
	fputc('\n', fp);
}

void cli_print_options(FILE *fp, const struct cli_option *opts)
{
	for (; opts->name; opts++)
		print_option(fp, opts);
}

static void print_help_tail(FILE *fp, const int *exits, const char *examples)
{
	if (exits) {
		fputs("\nExit codes:\n", fp);
		cli_print_exit_codes(fp, exits);
	}
	if (examples)
		fprintf(fp, "\nExamples:\n%s", examples);
}

void cli_print_spec_help(FILE *fp, const struct cli_spec *spec)
{
	size_t i;

	fprintf(fp, "usage: %s %s\n\n%s\nOptions:\n", CLI_PROG, spec->usage, spec->about);
	if (spec->opts)
		cli_print_options(fp, spec->opts);
	for (i = 0; i < NCOMMON; i++) {
		struct cli_option o = common_options[i].opt;

		if (!takes(spec, i))
			continue;
		if (o.help == NULL)
			o.help = spec->json_help ? spec->json_help : "print JSON";
		print_option(fp, &o);
	}
	print_help_tail(fp, spec->exits, spec->examples);
}

int cli_parse_seconds(const char *cmd, const char *option, const char *text, double *out)
{
	char *end = NULL;
	double v = strtod(text, &end);

	if (end == text || *end != '\0' || !isfinite(v) || v < 0)
		return cli_error(cmd, CLI_EXIT_USAGE,
				 "invalid %s value '%s': give a number of "
				 "seconds >= 0",
				 option, text);
	*out = v;
	return 0;
}

int cli_parse_size(const char *cmd, const char *option, const char *text, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long v, mul = 1;

	errno = 0;
	v = (text[0] >= '0' && text[0] <= '9') ? strtoull(text, &end, 10) : 0;
	if (end && (*end == 'K' || *end == 'k'))
		mul = 1024ULL, end++;
	else if (end && (*end == 'M' || *end == 'm'))
		mul = 1024ULL * 1024, end++;
	else if (end && (*end == 'G' || *end == 'g'))
		mul = 1024ULL * 1024 * 1024, end++;
	if (end == NULL || end == text || *end != '\0' || errno || v == 0 ||
	    v > (unsigned long long)-1 / mul)
		return cli_error(cmd, CLI_EXIT_USAGE,
				 "invalid %s value '%s': give a number of bytes "
				 ">= 1, with an optional K, M or G suffix",
				 option, text);
	*out = v * mul;
	return 0;
}

int cli_attach_add(const char *cmd, struct cli_attach *a, const char *path)
{
	const char **grown;

	if (a->n >= LP_ATTACH_COUNT_MAX)
		return cli_error(cmd, CLI_EXIT_USAGE,
				 "more than %d --attach files: a pause holds at "
				 "most %d attachments",
				 LP_ATTACH_COUNT_MAX, LP_ATTACH_COUNT_MAX);
	if (*path == '\0')
		return cli_error(cmd, CLI_EXIT_USAGE, "--attach needs a file name");
	grown = realloc(a->paths, (a->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return cli_error(cmd, CLI_EXIT_ERROR, "out of memory");
	a->paths = grown;
	a->paths[a->n++] = path;
	return 0;
}

void cli_attach_free(struct cli_attach *a)
{
	free(a->paths);
	a->paths = NULL;
	a->n = 0;
}

int cli_check_pause_dir(const char *cmd, const char *dir)
{
	if (dir && *dir == '\0')
		return cli_error(cmd, CLI_EXIT_USAGE, "--pause-dir must not be empty");
	return 0;
}

int cli_check_positionals(const char *cmd, int argc, char **argv, int first, int want,
			  const char *what)
{
	int have = argc - first;

	if (have < want)
		return cli_error(cmd, CLI_EXIT_USAGE, "missing %s", what);
	if (have > want)
		return cli_error(cmd, CLI_EXIT_USAGE, "unexpected argument '%s'",
				 argv[first + want]);
	return 0;
}

int cli_store_open_for_ref(const char *dir_opt, const char *ref, lp_store **out,
			   const char **dir_out)
{
	/* the path of a pause file names its own pause directory */
	if (dir_opt == NULL && strchr(ref, '/') != NULL) {
		*out = NULL;
		*dir_out = NULL;
		return LP_OK;
	}
	return cli_store_open(dir_opt, out, dir_out);
}

int cli_store_open(const char *dir_opt, lp_store **out, const char **dir_out)
{
	const char *dir = lp_store_default_path(dir_opt);

	*out = NULL;
	*dir_out = dir;
	int rc = lp_store_open(out, dir, 0);
	if (rc == LP_OK && lp_store_notice(*out)[0] != '\0')
		fprintf(stderr, "%s: %s\n", CLI_PROG, lp_store_notice(*out));
	if (rc == LP_OK) /* readers say what they skipped as untrusted */
		lp_store_set_warn(*out, cli_warning, NULL);
	return rc;
}
