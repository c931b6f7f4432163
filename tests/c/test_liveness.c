/*
 * test_liveness.c - liveness.c: the identity of this process (host, pid,
 * /proc start time, boot id) and lpi_identity_judge: alive for ourselves;
 * dead for an exited pid, for a live pid whose start time differs (pid
 * reuse), for another boot; on another host judged by the heartbeat.
 */
#include "helpers.h"

#include <sys/prctl.h>

static void test_self_alive(void **state)
{
	(void)state;
	lpi_identity me;
	assert_int_equal(lpi_identity_self(&me), LP_OK);
	assert_int_equal(me.pid, (long)getpid());
	assert_true(me.start_time > 0);
	assert_string_equal(me.hostname, lpi_hostname());
	assert_true(strlen(me.boot_id) > 0);
	assert_null(strchr(me.boot_id, '\n'));
	assert_int_equal(lpi_identity_judge(&me, 0, 0), LP_LIVE_ALIVE);
	/* recorded without start time or boot id (older files): by pid */
	lpi_identity weak = me;
	weak.start_time = 0;
	weak.boot_id[0] = '\0';
	assert_int_equal(lpi_identity_judge(&weak, 0, 0), LP_LIVE_ALIVE);
	/* no hostname recorded: judged as this host */
	weak.hostname[0] = '\0';
	assert_int_equal(lpi_identity_judge(&weak, 0, 0), LP_LIVE_ALIVE);
}

static void test_start_time(void **state)
{
	(void)state;
	unsigned long long a = 0, b = 0;
	assert_int_equal(lpi_proc_start_time(getpid(), &a), LP_OK);
	assert_true(a > 0);
	/* a command name with spaces and ')' does not shift the fields */
	char old[17] = "";
	prctl(PR_GET_NAME, old, 0, 0, 0);
	prctl(PR_SET_NAME, "a) b c (d) e f", 0, 0, 0);
	int rc = lpi_proc_start_time(getpid(), &b);
	prctl(PR_SET_NAME, old, 0, 0, 0);
	assert_int_equal(rc, LP_OK);
	assert_true(a == b);
	/* pid 1 is older than us */
	unsigned long long init = 0;
	if (lpi_proc_start_time(1, &init) == LP_OK)
		assert_true(init <= a);
}

static int exit_now(void *arg)
{
	(void)arg;
	return 0;
}

static void test_dead_pid(void **state)
{
	(void)state;
	lpi_identity rec;
	lpi_identity_self(&rec);
	pid_t pid = fork_child(exit_now, NULL);
	assert_int_equal(wait_child(pid, 10000), 0);
	rec.pid = pid;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	rec.start_time = 0;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	unsigned long long st;
	assert_int_equal(lpi_proc_start_time(pid, &st), LP_ENOTFOUND);
	rec.pid = 0;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	rec.pid = -1;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
}

static int exit_on_eof(void *arg)
{
	int *fds = arg;
	close(fds[1]);
	await_fd(fds[0], 15000);
	return 0;
}

/* A process that has exited but is not yet reaped (a zombie) will never
 * take a command: it is dead, though kill(pid, 0) still finds it. */
static void test_zombie_dead(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork_child(exit_on_eof, fds);
	close(fds[0]);
	lpi_identity rec;
	lpi_identity_self(&rec);
	rec.pid = pid;
	assert_int_equal(lpi_proc_start_time(pid, &rec.start_time), LP_OK);
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_ALIVE);
	close(fds[1]); /* it exits */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	lpi_live judged = lpi_identity_judge(&rec, 0, 0);
	assert_int_equal(wait_child(pid, 10000), 0); /* reap before asserting */
	assert_int_equal(judged, LP_LIVE_DEAD);
}

static void test_pid_reused(void **state)
{
	(void)state;
	/* our pid, alive, but recorded with another start time: the process
	 * recorded is gone and the pid now belongs to someone else */
	lpi_identity rec;
	lpi_identity_self(&rec);
	rec.start_time += 1;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	rec.start_time -= 2;
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	/* pid 1 with our start time */
	lpi_identity self;
	lpi_identity_self(&self);
	rec = self;
	rec.pid = 1;
	unsigned long long init;
	if (lpi_proc_start_time(1, &init) == LP_OK && init != self.start_time)
		assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
}

/* A hold (pidfd) on a live process of this host: judged alive until it
 * exits, a zombie included; none for a process recorded with another
 * start time (the pid reused), another boot or another host. */
static void test_hold(void **state)
{
	(void)state;
	lpi_identity self;
	lpi_identity_self(&self);
	int fd = lpi_identity_hold(&self);
	assert_true(fd >= 0);
	assert_int_equal(lpi_hold_judge(fd), LP_LIVE_ALIVE);
	close(fd);
	lpi_identity rec = self;
	rec.start_time += 1;
	assert_int_equal(lpi_identity_hold(&rec), -1);
	rec = self;
	snprintf(rec.hostname, sizeof rec.hostname, "%s-elsewhere", lpi_hostname());
	assert_int_equal(lpi_identity_hold(&rec), -1);
	rec = self;
	snprintf(rec.boot_id, sizeof rec.boot_id, "00000000-0000-0000-0000-000000000000");
	if (strcmp(self.boot_id, "unknown") != 0)
		assert_int_equal(lpi_identity_hold(&rec), -1);

	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork_child(exit_on_eof, fds);
	close(fds[0]);
	rec = self;
	rec.pid = pid;
	assert_int_equal(lpi_proc_start_time(pid, &rec.start_time), LP_OK);
	fd = lpi_identity_hold(&rec);
	assert_true(fd >= 0);
	assert_int_equal(lpi_hold_judge(fd), LP_LIVE_ALIVE);
	close(fds[1]); /* it exits */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	lpi_live zombie = lpi_hold_judge(fd);
	assert_int_equal(wait_child(pid, 10000), 0);
	lpi_live reaped = lpi_hold_judge(fd);
	close(fd);
	assert_int_equal(zombie, LP_LIVE_DEAD);
	assert_int_equal(reaped, LP_LIVE_DEAD);
}

static void test_other_boot(void **state)
{
	(void)state;
	lpi_identity rec;
	lpi_identity_self(&rec);
	if (strcmp(rec.boot_id, "unknown") == 0)
		skip(); /* no /proc/sys/kernel/random/boot_id */
	snprintf(rec.boot_id, sizeof rec.boot_id, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_DEAD);
	/* an unknown boot id is not evidence of a reboot */
	snprintf(rec.boot_id, sizeof rec.boot_id, "unknown");
	assert_int_equal(lpi_identity_judge(&rec, 0, 0), LP_LIVE_ALIVE);
}

static void test_other_host(void **state)
{
	(void)state;
	lpi_identity rec;
	lpi_identity_self(&rec);
	snprintf(rec.hostname, sizeof rec.hostname, "%s-elsewhere", lpi_hostname());
	rec.pid = 999999999; /* meaningless here: not our pid namespace */
	double now = lpi_now();
	double interval = LP_HEARTBEAT_INTERVAL;
	assert_int_equal(lpi_identity_judge(&rec, now, interval), LP_LIVE_ALIVE);
	assert_int_equal(lpi_identity_judge(&rec, now - interval, interval), LP_LIVE_ALIVE);
	assert_int_equal(lpi_identity_judge(&rec, now - 100 * interval, interval), LP_LIVE_DEAD);
	assert_int_equal(
		lpi_identity_judge(&rec, now - (LP_HEARTBEAT_MISSES + 2) * interval, interval),
		LP_LIVE_DEAD);
	/* no heartbeat to judge by: assumed alive */
	assert_int_equal(lpi_identity_judge(&rec, 0, interval), LP_LIVE_ALIVE);
	assert_int_equal(lpi_identity_judge(&rec, now - 1000, 0), LP_LIVE_ALIVE);
	/* the boot id of another host is not compared with ours */
	snprintf(rec.boot_id, sizeof rec.boot_id, "other-boot");
	assert_int_equal(lpi_identity_judge(&rec, now, interval), LP_LIVE_ALIVE);
}

static void test_clocks(void **state)
{
	(void)state;
	int64_t a = lpi_mono_ms(), b = lpi_mono_ms();
	assert_true(b >= a);
	assert_true(lpi_now() > 1.5e9);
	assert_true(strlen(lpi_hostname()) > 0);
}

int main(void)
{
	test_guard(60);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_alive), cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_dead_pid),   cmocka_unit_test(test_zombie_dead),
		cmocka_unit_test(test_pid_reused), cmocka_unit_test(test_other_boot),
		cmocka_unit_test(test_other_host), cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_hold),
	};
	return cmocka_run_group_tests_name("liveness", tests, NULL, NULL);
}
