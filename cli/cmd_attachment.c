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
	CLI_OPT_END,
};

static const int exits[] = {
	CLI_EXIT_OK, CLI_EXIT_ERROR, CLI_EXIT_USAGE, CLI_EXIT_NOTFOUND, CLI_EXIT_UNSAFE, -1,
};

static const struct cli_spec spec = {
	.name = CMD,
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
	.common = CLI_COMMON_PAUSE_DIR,
	.exits = exits,
	.examples = "  " CLI_PROG " attachment 27be4cbca5ab.79688e30 screen.png "
		    "-o /tmp/screen.png\n"
		    "  " CLI_PROG " attachment 27be4cbca5ab.79688e30 logcat.txt | "
		    "less\n",
};

int cmd_attachment(int argc, char **argv)
{
	struct cli_parser p;
	struct cli_common common;
	const char *arg, *out = NULL, *dir;
	lp_store *store = NULL;
	lp_attachment found;
	int key, rc, exit_code = CLI_EXIT_OK;

	memset(&found, 0, sizeof(found));
	if (cli_command_init(&p, &spec, &common, argc, argv) != 0)
		return CLI_EXIT_ERROR;
	while ((key = cli_parser_next(&p, &arg)) > 0) {
		switch (key) {
		case KEY_OUTPUT:
			if (*arg == '\0')
				return cli_error(CMD, CLI_EXIT_USAGE,
						 "-o needs a file name ('-': "
						 "standard output)");
			out = strcmp(arg, "-") == 0 ? NULL : arg;
			break;
		}
	}
	if (key < 0)
		return cli_finish(CMD, p.exit_code);
	if (cli_check_positionals(CMD, argc, argv, optind, 2,
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
	rc = cli_store_open_for_ref(common.pause_dir, argv[optind], &store, &dir);
	if (rc == LP_OK) {
		fflush(stdout);
		rc = lp_attachment_export(store, argv[optind], argv[optind + 1], out,
					  out ? -1 : STDOUT_FILENO, &found);
	}
	if (rc != LP_OK)
		exit_code = cli_lp_error(CMD, rc);
	else if (out) {
		char line[4096];

		/* one line, escaped as a whole: the name and path are data */
		snprintf(line, sizeof(line), "wrote %s (%llu bytes, sha256 %s) to %s", found.name,
			 found.size, found.sha256, out);
		cli_print_line(stdout, line);
	}
	lp_attachment_clear(&found);
	lp_store_free(store);
	return cli_finish(CMD, exit_code);
}
