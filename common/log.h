/* Logging: one line per event on stderr, "2026-11-22T10:00:00.123Z LEVEL [component] message".
 * Thread-safe (each line is written with a single write(2)). */
#ifndef ZKFS_LOG_H
#define ZKFS_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the most verbose level printed (default INFO; env ZKFS_LOG=debug|info|warn|error). */
void log_set_level(enum log_level lvl);
/* Parses "debug"/"info"/"warn"/"error"; returns -1 for anything else. */
int log_parse_level(const char *s);
/* Sets the component name printed in brackets (default "zkfs"); the string must outlive use. */
void log_set_component(const char *name);
int log_enabled(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs an ERROR line and ends the process at once with status (_exit: safe from any thread,
 * nothing buffered is flushed on the way out, no atexit handler runs). */
void log_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#define LOG_ERROR(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
