/*
 * cmd_attachment.c - `pytest-live-pause attachment`: write out one
 * attachment of a pause, chosen by name or sha256, to a file (-o) or to
 * standard output. The runtime (lp_attachment_export) verifies the blob
 * against its SHA-256: one whose bytes do not match is refused and
 * nothing of it is written.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "attachment"

enum { KEY_OUTPUT = 'o' };

static const struct cli_option options[] = {
	{"output", KEY_OUTPUT, required_argument, "FILE",
	 "write it to FILE (replaced atomically, only once\nevery byte "
	 "matched; '-': standard output)"},
	CLI_OPT_PAUSE_DIR,
	CLI_OPT_HELP,
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND,
	CLI_EXIT_UNSAFE, -1,
};

static const struct cli_help help = {
	.usage = "attachment <pause_id | pause file> <name | sha256> [-o FILE] "
		 "[--pause-dir DIR]",
	.about = "Write out one attachment of a pause (listed by 'show'), named "
		 "by its name\nor its sha256 (a name that several different files "
		 "share is refused\nwith exit 2: give the sha256). The blob is read "
		 "from the run's blob\nstore and its SHA-256 checked: a blob that "
		 "is missing exits 3, one whose\nbytes do not match exits 1, and "
		 "in both cases nothing is written. With\n-o FILE the bytes go to "
		 "a temporary file beside FILE, renamed over it\nonce verified; "
		 "without -o to standard output, which must not be a\nterminal "
		 "(an attachment is data: redirect it, or give -o).\n\n"
		 "With -o, on success prints: wrote <name> (<size> bytes, sha256 "
		 "<hex>) to\n<FILE>\n",
	.opts = options,
	.exits = exits,
	.examples = "  " CLI_PROG " attachment 27be4cbca5ab.79688e30 screen.png "
		    "-o /tmp/screen.png\n"
		    "  " CLI_PROG " attachment 27be4cbca5ab.79688e30 logcat.txt | "
		    "less\n",
};

int cmd_attachment(int argc, char **argv)
{
	struct cli_parser p;
	const char *arg, *pause_dir = NULL, *out = NULL, *dir;
	lp_store *store = NULL;
	lp_attachment found;
	int key, rc, exit_code = CLI_EXIT_OK;

	memset(&found, 0, sizeof(found));
	if (cli_parser_init(&p, CMD, options, argc, argv, 0) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case 'h':
			cli_print_help(stdout, &help);
			return cli_finish(CMD, CLI_EXIT_OK);
		case KEY_OUTPUT:
			if (*arg == '\0')
				return cli_error(CMD, CLI_EXIT_USAGE,
						 "-o needs a file name ('-': "
						 "standard output)");
			out = strcmp(arg, "-") == 0 ? NULL : arg;
			break;
		case CLI_KEY_PAUSE_DIR:
			pause_dir = arg;
			if (cli_check_pause_dir(CMD, arg))
				return CLI_EXIT_USAGE;
			break;
		}
	}
	if (key < 0 || cli_check_positionals(CMD, argc, argv, optind, 2,
					     "<pause_id | pause file> and "
					     "<name | sha256> arguments"))
		return CLI_EXIT_USAGE;
	if (!*argv[optind] || !*argv[optind + 1])
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "the pause and the attachment must not be "
				 "empty");
	if (out == NULL && isatty(STDOUT_FILENO))
		return cli_error(CMD, CLI_EXIT_USAGE,
				 "standard output is a terminal: give -o FILE, "
				 "or redirect it");
	rc = cli_store_open_for_ref(pause_dir, argv[optind], &store, &dir);
	if (rc == LP_OK) {
		fflush(stdout);
		rc = lp_attachment_export(store, argv[optind], argv[optind + 1],
					  out, out ? -1 : STDOUT_FILENO,
					  &found);
	}
	if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else if (out) {
		char line[4096];

		/* one line, escaped as a whole: the name and path are data */
		snprintf(line, sizeof(line), "wrote %s (%llu bytes, sha256 %s) to %s",
			 found.name, found.size, found.sha256, out);
		cli_print_line(stdout, line);
	}
	lp_attachment_clear(&found);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
