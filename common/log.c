/* Logging implementation: formats a whole line in a buffer, then one write(2) to stderr. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int level = -1;
static const char *component = "zkfs";
static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, names[i]) == 0)
            return i;
    if (s && strcasecmp(s, "warning") == 0)
        return LOG_LVL_WARN;
    return -1;
}

void log_set_level(enum log_level lvl) { level = lvl; }
void log_set_component(const char *name) { component = name; }

int log_enabled(enum log_level lvl)
{
    if (level < 0) {
        int l = log_parse_level(getenv("ZKFS_LOG"));
        level = l < 0 ? LOG_LVL_INFO : l;
    }
    return (int)lvl <= level;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[lvl], component);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    n += m < 0 ? 0 : (m >= (int)sizeof(line) - n - 1 ? (int)sizeof(line) - n - 2 : m);
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
}

void log_fatal(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LVL_ERROR, fmt, ap);
    va_end(ap);
    _exit(status);
}
