/* A hash map from byte-string keys to pointers: the one associative container of the
 * project (znodes by path, sessions by id, watches by path). Open addressing with linear
 * probing and backward-shift deletion, so there are no tombstones and lookups stay short. */
#ifndef ZKFS_HMAP_H
#define ZKFS_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
    char *key;      /* the key (NUL-terminated when the map copied it); NULL = empty slot */
    uint32_t klen;
    uint32_t owned; /* the map copied the key and frees it */
    uint64_t hash;
    void *val;
};

struct hmap {
    struct hmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
};

/* Initialises an empty map; allocates nothing until the first insert. */
void hmap_init(struct hmap *m);
/* Frees the map's own memory and keys; values are the caller's (free them first). */
void hmap_free(struct hmap *m);

/* Returns the value stored under key, or NULL. */
void *hmap_get(const struct hmap *m, const void *key, size_t klen);
/* Stores val under key (the map copies the key), replacing and returning any previous
 * value through *old (may be NULL). Returns 0, or -1 when out of memory (map unchanged). */
int hmap_put(struct hmap *m, const void *key, size_t klen, void *val, void **old);
/* Like hmap_put, but the map keeps the caller's key pointer instead of a copy: the key must
 * stay valid and unchanged for as long as it is in the map (a znode's own path, say). This
 * saves an allocation per entry in the big maps. */
int hmap_put_borrowed(struct hmap *m, const void *key, size_t klen, void *val);
/* Makes room for n entries without rehashing on the way (0, or -1 when out of memory). */
int hmap_reserve(struct hmap *m, size_t n);
/* Removes key; returns its value, or NULL when absent. */
void *hmap_del(struct hmap *m, const void *key, size_t klen);

/* Convenience forms for NUL-terminated string keys and 64-bit integer keys. */
void *hmap_gets(const struct hmap *m, const char *key);
int hmap_puts(struct hmap *m, const char *key, void *val);
void *hmap_dels(struct hmap *m, const char *key);
void *hmap_get64(const struct hmap *m, int64_t key);
int hmap_put64(struct hmap *m, int64_t key, void *val);
void *hmap_del64(struct hmap *m, int64_t key);

/* Iteration: for (size_t i = 0; hmap_next(m, &i, &slot);) ... ; the map must not be
 * modified during iteration except through hmap_del of the current key, after which the
 * loop must restart (backward shift moves entries). */
int hmap_next(const struct hmap *m, size_t *i, struct hmap_slot **slot);

/* 64-bit FNV-1a; exported so callers can hash consistently. */
uint64_t hmap_hash(const void *key, size_t klen);

#endif
