/* The two clocks the drivers read and pass into the pure cores: monotonic for timeouts and
 * deadlines (immune to wall-clock steps), wall for what clients see (mtime, ctime). */
#ifndef ZKFS_COMMON_CLOCK_H
#define ZKFS_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static inline int64_t mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static inline int64_t wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

#endif
