/*
 * create.c - the spawned half of the round trip's physical floor
 * (bench/scenario_roundtrip.py, issue 11.8): a trivial C program that
 * creates the file named by its argument and exits. Its spawn, the file's
 * creation and the inotify wake-up of wait.c are what any resume must at
 * least cost on this machine.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: create PATH\n");
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	return close(fd) == 0 ? 0 : 1;
}
