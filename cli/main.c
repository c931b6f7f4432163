/*
 * main.c - the entry point of the pytest-live-pause executable; all of
 * the command line is handled by cli_main() (dispatch.c), which the
 * argument fuzzer (fuzz/fuzz_cli_args.c) calls too.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
