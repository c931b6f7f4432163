/*
 * error.c - the thread-local last error: a code and a message fit for a
 * user, set by every failing runtime call and read by lp_error_message().
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static __thread int last_code;
static __thread char last_msg[1024];

const char *lp_error_message(void)
{
	return last_msg;
}
int lp_error_last(void)
{
	return last_code;
}

void lpi_error_clear(void)
{
	last_code = LP_OK;
	last_msg[0] = '\0';
}

__attribute__((format(printf, 3, 0))) static int set_error(int code, int errnum, const char *fmt,
							   va_list ap)
{
	/* format into a local buffer: the arguments may be last_msg itself */
	char buf[sizeof last_msg];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	if (n < 0)
		buf[0] = '\0';
	if (errnum && n >= 0 && (size_t)n < sizeof buf)
		snprintf(buf + n, sizeof buf - (size_t)n, ": %s", strerror(errnum));
	memcpy(last_msg, buf, sizeof last_msg);
	last_code = code;
	return code;
}

int lpi_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int lpi_fail_errno(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(code, errnum, fmt, ap);
	va_end(ap);
	return code;
}

const char *lp_error_name(int code)
{
	switch (code) {
	case LP_OK: return "LP_OK";
	case LP_ERROR: return "LP_ERROR";
	case LP_EINVAL: return "LP_EINVAL";
	case LP_ENOTFOUND: return "LP_ENOTFOUND";
	case LP_EUNSAFE: return "LP_EUNSAFE";
	case LP_ESTALE: return "LP_ESTALE";
	case LP_ERESUMED: return "LP_ERESUMED";
	case LP_ETIMEDOUT: return "LP_ETIMEDOUT";
	case LP_EABORTED: return "LP_EABORTED";
	case LP_EWAITTIMEOUT: return "LP_EWAITTIMEOUT";
	case LP_EINTR: return "LP_EINTR";
	case LP_EBADCMD: return "LP_EBADCMD";
	case LP_ERUNENDED: return "LP_ERUNENDED";
	case LP_ENOTTAKEN: return "LP_ENOTTAKEN";
	case LP_EKIND: return "LP_EKIND";
	case LP_ENOEVAL: return "LP_ENOEVAL";
	case LP_ENOACTION: return "LP_ENOACTION";
	}
	return "LP_UNKNOWN";
}
