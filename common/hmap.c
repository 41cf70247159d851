/* Open-addressing hash map implementation; see hmap.h for the contract. */
#include "common/hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

uint64_t hmap_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    /* final avalanche so that sequential names spread over the low bits */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

void hmap_init(struct hmap *m)
{
    memset(m, 0, sizeof(*m));
}

void hmap_free(struct hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].owned)
            free(m->slots[i].key);
    free(m->slots);
    hmap_init(m);
}

static size_t find(const struct hmap *m, const void *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct hmap_slot *s = &m->slots[i];
        if (!s->key)
            return i;
        if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return i;
    }
}

void *hmap_get(const struct hmap *m, const void *key, size_t klen)
{
    if (!m->len)
        return NULL;
    size_t i = find(m, key, klen, hmap_hash(key, klen));
    return m->slots[i].key ? m->slots[i].val : NULL;
}

static int rehash(struct hmap *m, size_t ncap)
{
    struct hmap_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct hmap_slot *s = &m->slots[i];
        if (!s->key)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static int grow(struct hmap *m) { return rehash(m, m->cap ? m->cap * 2 : 16); }

int hmap_reserve(struct hmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;
    while (n * 4 > cap * 3)
        cap *= 2;
    return cap == m->cap ? 0 : rehash(m, cap);
}

static int put(struct hmap *m, const void *key, size_t klen, void *val, void **old, int copy)
{
    if (old)
        *old = NULL;
    if (klen > UINT32_MAX)
        return -1;
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -1;
    uint64_t h = hmap_hash(key, klen);
    size_t i = find(m, key, klen, h);
    struct hmap_slot *s = &m->slots[i];
    if (s->key) {
        if (old)
            *old = s->val;
        s->val = val;
        return 0;
    }
    char *k = (char *)key;
    if (copy) {
        k = malloc(klen + 1);
        if (!k)
            return -1;
        memcpy(k, key, klen);
        k[klen] = 0;
    }
    s->key = k;
    s->klen = (uint32_t)klen;
    s->owned = (uint32_t)copy;
    s->hash = h;
    s->val = val;
    m->len++;
    return 0;
}

int hmap_put(struct hmap *m, const void *key, size_t klen, void *val, void **old)
{
    return put(m, key, klen, val, old, 1);
}

int hmap_put_borrowed(struct hmap *m, const void *key, size_t klen, void *val)
{
    return put(m, key, klen, val, NULL, 0);
}

void *hmap_del(struct hmap *m, const void *key, size_t klen)
{
    if (!m->len)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = find(m, key, klen, hmap_hash(key, klen));
    if (!m->slots[i].key)
        return NULL;
    void *val = m->slots[i].val;
    if (m->slots[i].owned)
        free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->len--;
    /* backward shift: move later entries of the probe run into the hole when allowed */
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        int movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return val;
}

void *hmap_gets(const struct hmap *m, const char *key) { return hmap_get(m, key, strlen(key)); }
int hmap_puts(struct hmap *m, const char *key, void *val) { return hmap_put(m, key, strlen(key), val, NULL); }
void *hmap_dels(struct hmap *m, const char *key) { return hmap_del(m, key, strlen(key)); }
void *hmap_get64(const struct hmap *m, int64_t key) { return hmap_get(m, &key, sizeof(key)); }
int hmap_put64(struct hmap *m, int64_t key, void *val) { return hmap_put(m, &key, sizeof(key), val, NULL); }
void *hmap_del64(struct hmap *m, int64_t key) { return hmap_del(m, &key, sizeof(key)); }

int hmap_next(const struct hmap *m, size_t *i, struct hmap_slot **slot)
{
    while (*i < m->cap) {
        struct hmap_slot *s = &m->slots[(*i)++];
        if (s->key) {
            *slot = s;
            return 1;
        }
    }
    return 0;
}
