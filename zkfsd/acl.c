/* ZooKeeper's ACL model; see acl.h for the contracts and the Java classes each part follows. */
#include "zkfsd/acl.h"

#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"
#include "zkfsd/digest.h"

#define SCHEME_WORLD "world"
#define SCHEME_AUTH "auth"
#define SCHEME_DIGEST "digest"
#define SCHEME_IP "ip"
#define SCHEME_SUPER "super"

const struct zk_id ANYONE_ID_UNSAFE = {(char *)SCHEME_WORLD, (char *)"anyone"};
const struct zk_id AUTH_IDS = {(char *)SCHEME_AUTH, (char *)""};
const struct zk_acl OPEN_ACL_UNSAFE[1] = {{ZPERM_ALL, {(char *)SCHEME_WORLD, (char *)"anyone"}}};
const struct zk_acl READ_ACL_UNSAFE[1] = {{ZPERM_READ, {(char *)SCHEME_WORLD, (char *)"anyone"}}};
const struct zk_acl CREATOR_ALL_ACL[1] = {{ZPERM_ALL, {(char *)SCHEME_AUTH, (char *)""}}};

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ======================= interned ACL lists ======================= */

/* Canonical encoding: n, then per entry perms and two strings, each a tag byte (0 = NULL,
 * 1 = present) followed for present ones by the bytes and a NUL. Strings cannot contain
 * NUL, so the encoding is unambiguous and equal lists encode equally. The NUL terminators
 * let the set's strings point straight into its copy of the key. */
static bool key_len(const struct zk_acl *v, int32_t n, size_t *len)
{
    size_t total = 4;
    for (int32_t i = 0; i < n; i++) {
        const char *s[2] = {v[i].id.scheme, v[i].id.id};
        total += 4;
        for (int k = 0; k < 2; k++) {
            size_t sl = s[k] ? strlen(s[k]) + 1 : 0;
            if (sl > SIZE_MAX / 4 || total > SIZE_MAX / 4)
                return false;
            total += 1 + sl;
        }
    }
    *len = total;
    return true;
}

static void put32(uint8_t *p, int32_t v)
{
    memcpy(p, &v, 4); /* in-memory key only: host order is fine */
}

static void key_write(const struct zk_acl *v, int32_t n, uint8_t *p)
{
    put32(p, n);
    p += 4;
    for (int32_t i = 0; i < n; i++) {
        const char *s[2] = {v[i].id.scheme, v[i].id.id};
        put32(p, v[i].perms);
        p += 4;
        for (int k = 0; k < 2; k++) {
            if (!s[k]) {
                *p++ = 0;
                continue;
            }
            *p++ = 1;
            size_t sl = strlen(s[k]) + 1;
            memcpy(p, s[k], sl);
            p += sl;
        }
    }
}

/* Points the set's entries into its key (the inverse of key_write). */
static void key_read(struct zk_acl_set *s)
{
    const uint8_t *p = s->key + 4;
    for (int32_t i = 0; i < s->n; i++) {
        char **dst[2] = {&s->v[i].id.scheme, &s->v[i].id.id};
        memcpy(&s->v[i].perms, p, 4);
        p += 4;
        for (int k = 0; k < 2; k++) {
            if (*p++ == 0) {
                *dst[k] = NULL;
                continue;
            }
            *dst[k] = (char *)p;
            p += strlen((const char *)p) + 1;
        }
    }
    assert(p == s->key + s->keylen);
}

void acl_cache_init(struct acl_cache *c)
{
    hmap_init(&c->map);
}

void acl_cache_free(struct acl_cache *c)
{
    struct hmap_slot *slot;
    for (size_t i = 0; hmap_next(&c->map, &i, &slot);)
        free(slot->val);
    hmap_free(&c->map);
}

size_t acl_cache_size(const struct acl_cache *c)
{
    return c->map.len;
}

struct zk_acl_set *acl_intern(struct acl_cache *c, const struct zk_acl *v, int32_t n)
{
    size_t klen;
    if (n < 0 || n > JUTE_MAX_VECTOR || (n > 0 && !v) || !key_len(v, n, &klen))
        return NULL;
    size_t head = sizeof(struct zk_acl_set) + (size_t)n * sizeof(struct zk_acl);
    if (klen > SIZE_MAX - head)
        return NULL;
    /* Build the candidate in its final place: a miss (rare: lists are few) keeps it, a
     * hit frees it. */
    struct zk_acl_set *s = malloc(head + klen);
    if (!s)
        return NULL;
    uint8_t *key = (uint8_t *)s + head;
    key_write(v, n, key);

    struct zk_acl_set *found = hmap_get(&c->map, key, klen);
    if (found) {
        free(s);
        return acl_retain(found);
    }
    s->n = n;
    s->refs = 1;
    s->keylen = klen;
    s->key = key;
    key_read(s);
    if (hmap_put(&c->map, key, klen, s, NULL) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

struct zk_acl_set *acl_retain(struct zk_acl_set *s)
{
    assert(s->refs > 0 && s->refs < INT_MAX);
    s->refs++;
    return s;
}

void acl_release(struct acl_cache *c, struct zk_acl_set *s)
{
    if (!s)
        return;
    assert(s->refs > 0);
    if (--s->refs > 0)
        return;
    void *gone = hmap_del(&c->map, s->key, s->keylen);
    assert(gone == s);
    (void)gone;
    free(s);
}

/* ======================= authenticated ids ======================= */

void acl_auth_init(struct zk_auth *a)
{
    a->n = 0;
    a->ids = NULL;
}

void acl_auth_free(struct zk_auth *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->ids[i].scheme);
        free(a->ids[i].id);
    }
    free(a->ids);
    acl_auth_init(a);
}

bool acl_auth_has(const struct zk_auth *a, const char *scheme, const char *id)
{
    for (int i = 0; a && i < a->n; i++)
        if (str_eq(a->ids[i].scheme, scheme) && str_eq(a->ids[i].id, id))
            return true;
    return false;
}

int acl_auth_add_id(struct zk_auth *a, const char *scheme, const char *id)
{
    if (!scheme || !id)
        return ZBADARGUMENTS;
    if (acl_auth_has(a, scheme, id))
        return ZOK;
    if (a->n >= JUTE_MAX_VECTOR)
        return ZSYSTEMERROR;
    struct zk_id *ids = realloc(a->ids, (size_t)(a->n + 1) * sizeof(*ids));
    if (!ids)
        return ZSYSTEMERROR;
    a->ids = ids;
    char *s = strdup(scheme);
    char *d = strdup(id);
    if (!s || !d) {
        free(s);
        free(d);
        return ZSYSTEMERROR;
    }
    ids[a->n].scheme = s;
    ids[a->n].id = d;
    a->n++;
    return ZOK;
}

int acl_auth_copy(struct zk_auth *dst, const struct zk_auth *src)
{
    acl_auth_init(dst);
    for (int i = 0; src && i < src->n; i++) {
        if (acl_auth_add_id(dst, src->ids[i].scheme, src->ids[i].id) != ZOK) {
            acl_auth_free(dst);
            return ZSYSTEMERROR;
        }
    }
    return ZOK;
}

int acl_auth_add(struct zk_auth *auth, const char *scheme, const uint8_t *data, int32_t len, const char *super_digest)
{
    if (!scheme)
        return ZAUTHFAILED;
    if (strcmp(scheme, SCHEME_IP) == 0)
        return ZOK;
    if (strcmp(scheme, SCHEME_DIGEST) != 0)
        return ZAUTHFAILED;
    if (len < 0 || (len > 0 && !data))
        return ZAUTHFAILED;
    if ((size_t)len > (SIZE_MAX - DIGEST_HASH_B64_LEN - 2) / 3) /* the buffers below are 3 * len */
        return ZSYSTEMERROR;

    int rc = ZSYSTEMERROR;
    size_t tlen = 0;
    uint8_t *text = malloc((size_t)len * 3 + 1);
    size_t idsz = (size_t)len * 3 + DIGEST_HASH_B64_LEN + 2;
    char *digest = malloc(idsz);
    if (!text || !digest)
        goto out;
    tlen = digest_java_utf8(data, (size_t)len, text);
    const uint8_t *colon = memchr(text, ':', tlen);
    size_t ulen = colon ? (size_t)(colon - text) : tlen;
    if (memchr(text, '\0', ulen)) {
        rc = ZAUTHFAILED;
        goto out;
    }
    rc = digest_generate((const char *)text, tlen, digest, idsz);
    assert(rc == ZOK);
    /* The super id goes first, as in the Java provider; order matters only for whoAmI. */
    if (super_digest && strcmp(digest, super_digest) == 0) {
        rc = acl_auth_add_id(auth, SCHEME_SUPER, "");
        if (rc != ZOK)
            goto out;
    }
    rc = acl_auth_add_id(auth, SCHEME_DIGEST, digest);
out:
    if (text)
        memset(text, 0, tlen); /* holds the password */
    free(text);
    free(digest);
    return rc;
}

int acl_ip_id(const struct sockaddr *sa, char *out, size_t outsz)
{
    if (!sa || outsz < ACL_IP_ID_MAX)
        return ZBADARGUMENTS;
    const uint8_t *b;
    if (sa->sa_family == AF_INET) {
        b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        snprintf(out, outsz, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return ZOK;
    }
    if (sa->sa_family != AF_INET6)
        return ZBADARGUMENTS;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    b = s6->sin6_addr.s6_addr;
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, v4mapped, sizeof(v4mapped)) == 0) {
        /* the JVM turns mapped addresses into Inet4Address */
        snprintf(out, outsz, "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
        return ZOK;
    }
    size_t o = 0;
    for (int g = 0; g < 8; g++)
        o += (size_t)snprintf(out + o, outsz - o, g ? ":%x" : "%x", (unsigned)(b[2 * g] << 8 | b[2 * g + 1]));
    if (s6->sin6_scope_id)
        snprintf(out + o, outsz - o, "%%%u", (unsigned)s6->sin6_scope_id);
    return ZOK;
}

/* ======================= providers ======================= */

/* Integer.parseInt(s[0..n), radix) for ASCII digits: an optional sign, then at least one
 * digit, the value within int32. */
static bool parse_java_int(const char *s, size_t n, int radix, int32_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        int d;
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'z')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'Z')
            d = ch - 'A' + 10;
        else
            return false;
        if (d >= radix)
            return false;
        v = v * radix + d;
        if (v > (int64_t)INT32_MAX + 1)
            return false;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

static bool parse_v4(const char *s, size_t n, uint8_t out[4])
{
    if (count_char(s, n, '.') != 3)
        return false;
    for (int part = 0; part < 4; part++) {
        const char *dot = memchr(s, '.', n);
        size_t pl = dot ? (size_t)(dot - s) : n;
        int32_t v;
        if (!parse_java_int(s, pl, 10, &v) || v < 0 || v > 255)
            return false;
        out[part] = (uint8_t)v;
        if (dot) {
            n -= pl + 1;
            s = dot + 1;
        }
    }
    return true;
}

/* Parses the ':'-separated groups of s[0..n) (n > 0) into out at 2-byte steps; *count
 * receives the number of groups. Groups are 1..4 characters of Integer.parseInt(.., 16),
 * whose low 16 bits are stored (so "-1" is ffff). */
static bool parse_v6_groups(const char *s, size_t n, uint8_t *out, size_t room, size_t *count)
{
    size_t k = 0;
    for (;;) {
        const char *c = memchr(s, ':', n);
        size_t gl = c ? (size_t)(c - s) : n;
        int32_t v;
        if (gl == 0 || gl > 4 || !parse_java_int(s, gl, 16, &v) || k >= room)
            return false;
        out[2 * k] = (uint8_t)((uint32_t)v >> 8);
        out[2 * k + 1] = (uint8_t)v;
        k++;
        if (!c)
            break;
        n -= gl + 1;
        s = c + 1;
    }
    *count = k;
    return true;
}

static const char *find_dcolon(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ':' && s[i + 1] == ':')
            return s + i;
    return NULL;
}

static bool parse_v6(const char *s, size_t n, uint8_t out[16])
{
    memset(out, 0, 16);
    const char *dc = find_dcolon(s, n);
    if (!dc) {
        size_t k;
        return parse_v6_groups(s, n, out, 8, &k) && k == 8;
    }
    size_t llen = (size_t)(dc - s);
    const char *r = dc + 2;
    size_t rlen = n - llen - 2;
    if (find_dcolon(r, rlen)) /* Java splits on "::" left to right: a third part */
        return false;
    size_t k1 = 0, k2 = 0;
    uint8_t right[16];
    if (llen && !parse_v6_groups(s, llen, out, 8, &k1))
        return false;
    if (rlen && !parse_v6_groups(r, rlen, right, 8, &k2))
        return false;
    if (k1 + k2 >= 8) /* "::" must stand for at least one group */
        return false;
    memcpy(out + 16 - 2 * k2, right, 2 * k2);
    return true;
}

/* IPAuthenticationProvider.addr2Bytes: returns 4 or 16, or 0 when s does not parse. A ':'
 * anywhere means IPv6, otherwise a '.' means IPv4. */
static int addr_bytes(const char *s, size_t n, uint8_t out[16])
{
    if (memchr(s, ':', n))
        return parse_v6(s, n, out) ? 16 : 0;
    if (memchr(s, '.', n))
        return parse_v4(s, n, out) ? 4 : 0;
    return 0;
}

static void mask_bits(uint8_t *b, int len, int32_t bits)
{
    int start = bits / 8;
    if (start >= len)
        return;
    b[start] &= (uint8_t) ~((1u << (8 - bits % 8)) - 1);
    for (int i = start + 1; i < len; i++)
        b[i] = 0;
}

/* Splits "addr[/bits]" and parses both; bits defaults to the full length. */
static bool parse_ip_expr(const char *expr, uint8_t addr[16], int *alen, int32_t *bits)
{
    const char *slash = strchr(expr, '/');
    size_t n = slash ? (size_t)(slash - expr) : strlen(expr);
    *alen = addr_bytes(expr, n, addr);
    if (!*alen)
        return false;
    *bits = *alen * 8;
    if (slash) {
        if (!parse_java_int(slash + 1, strlen(slash + 1), 10, bits))
            return false;
        if (*bits < 0 || *bits > *alen * 8)
            return false;
    }
    return true;
}

bool acl_ip_valid(const char *expr)
{
    uint8_t addr[16];
    int alen;
    int32_t bits;
    return expr && parse_ip_expr(expr, addr, &alen, &bits);
}

bool acl_ip_matches(const char *id, const char *expr)
{
    uint8_t a[16], r[16];
    int alen;
    int32_t bits;
    if (!id || !expr || !parse_ip_expr(expr, a, &alen, &bits))
        return false;
    int rlen = addr_bytes(id, strlen(id), r);
    if (rlen != alen)
        return false;
    mask_bits(a, alen, bits);
    mask_bits(r, rlen, bits);
    return memcmp(a, r, (size_t)alen) == 0;
}

bool acl_digest_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    while (n > 0 && id[n - 1] == ':') /* split() drops trailing empty strings */
        n--;
    return n > 0 && count_char(id, n, ':') == 1;
}

int acl_user_name(const struct zk_id *id, char **out)
{
    const char *s = "";
    size_t n = 0;
    if (str_eq(id->scheme, SCHEME_DIGEST) && id->id) {
        s = id->id;
        n = strcspn(s, ":");
    } else if (str_eq(id->scheme, SCHEME_IP) && id->id) {
        s = id->id;
        n = strlen(s);
    }
    *out = strndup(s, n);
    return *out ? ZOK : ZSYSTEMERROR;
}

/* ======================= checkACL ======================= */

int acl_check_list(const struct zk_acl *v, int32_t n, int32_t perm, const struct zk_auth *auth)
{
    if (!v || n <= 0)
        return ZOK;
    int na = auth ? auth->n : 0;
    for (int j = 0; j < na; j++)
        if (str_eq(auth->ids[j].scheme, SCHEME_SUPER))
            return ZOK;
    for (int32_t i = 0; i < n; i++) {
        const struct zk_acl *a = &v[i];
        if ((a->perms & perm) == 0 || !a->id.scheme)
            continue;
        if (strcmp(a->id.scheme, SCHEME_WORLD) == 0 && str_eq(a->id.id, "anyone"))
            return ZOK;
        bool digest = strcmp(a->id.scheme, SCHEME_DIGEST) == 0;
        bool ip = strcmp(a->id.scheme, SCHEME_IP) == 0;
        if (!digest && !ip)
            continue; /* no provider: the entry can never match */
        for (int j = 0; j < na; j++) {
            const struct zk_id *who = &auth->ids[j];
            if (!str_eq(who->scheme, a->id.scheme))
                continue;
            if (digest ? str_eq(who->id, a->id.id) : acl_ip_matches(who->id, a->id.id))
                return ZOK;
        }
    }
    return ZNOAUTH;
}

int acl_check(const struct zk_acl_set *acl, int32_t perm, const struct zk_auth *auth)
{
    return acl ? acl_check_list(acl->v, acl->n, perm, auth) : ZOK;
}

/* ======================= fixupACL ======================= */

/* removeDuplicates uses ArrayList.contains, i.e. new.equals(kept) on each kept entry in
 * order, and the generated equals dereferences the receiver's strings: a new entry with a
 * NULL scheme throws as soon as a kept entry has the same perms, one with a NULL id as soon
 * as a kept entry has the same perms and scheme. Three kinds of keys in one map decide
 * each case in constant time instead of Java's quadratic scan:
 * 'P' perms, 'S' perms+scheme, 'F' perms+scheme+id (only for non-NULL strings). */
struct dedup {
    struct hmap seen;
    char *buf;
    size_t cap;
};

static const char *dedup_key(struct dedup *d, char kind, const struct zk_acl *a, size_t *klen)
{
    size_t sl = kind == 'P' ? 0 : strlen(a->id.scheme) + 1;
    size_t il = kind == 'F' ? strlen(a->id.id) : 0;
    size_t need = 1 + 4 + sl + il;
    if (need > d->cap) {
        size_t ncap = need * 2;
        char *nb = realloc(d->buf, ncap);
        if (!nb)
            return NULL;
        d->buf = nb;
        d->cap = ncap;
    }
    d->buf[0] = kind;
    memcpy(d->buf + 1, &a->perms, 4);
    if (sl)
        memcpy(d->buf + 5, a->id.scheme, sl);
    if (il)
        memcpy(d->buf + 5 + sl, a->id.id, il);
    *klen = need;
    return d->buf;
}

/* 1 if present, 0 if not, -1 when out of memory. */
static int dedup_has(struct dedup *d, char kind, const struct zk_acl *a)
{
    size_t kl;
    const char *k = dedup_key(d, kind, a, &kl);
    if (!k)
        return -1;
    return hmap_get(&d->seen, k, kl) != NULL;
}

static int dedup_add(struct dedup *d, char kind, const struct zk_acl *a)
{
    size_t kl;
    const char *k = dedup_key(d, kind, a, &kl);
    if (!k)
        return -1;
    return hmap_put(&d->seen, k, kl, (void *)a, NULL);
}

/* Fills keep[] with the indexes of the entries removeDuplicates keeps; returns ZOK,
 * ZMARSHALLINGERROR (Java's NullPointerException) or ZSYSTEMERROR. */
static int remove_duplicates(const struct zk_acl *in, int32_t n, int32_t *keep, int32_t *nkeep)
{
    struct dedup d = {.buf = NULL, .cap = 0};
    hmap_init(&d.seen);
    int rc = ZSYSTEMERROR;
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        const struct zk_acl *a = &in[i];
        int has;
        if (!a->id.scheme || !a->id.id) {
            has = dedup_has(&d, a->id.scheme ? 'S' : 'P', a);
            if (has < 0)
                goto out;
            if (has) {
                rc = ZMARSHALLINGERROR;
                goto out;
            }
        } else {
            has = dedup_has(&d, 'F', a);
            if (has < 0)
                goto out;
            if (has)
                continue;
        }
        if (dedup_add(&d, 'P', a) != 0)
            goto out;
        if (a->id.scheme && dedup_add(&d, 'S', a) != 0)
            goto out;
        if (a->id.scheme && a->id.id && dedup_add(&d, 'F', a) != 0)
            goto out;
        keep[k++] = i;
    }
    *nkeep = k;
    rc = ZOK;
out:
    hmap_free(&d.seen);
    free(d.buf);
    return rc;
}

struct acl_vec {
    struct zk_acl *v;
    int32_t n, cap;
};

static int vec_push(struct acl_vec *o, int32_t perms, const char *scheme, const char *id)
{
    if (o->n == o->cap) {
        if (o->cap >= JUTE_MAX_VECTOR)
            return ZSYSTEMERROR;
        int32_t ncap = o->cap ? o->cap * 2 : 4;
        struct zk_acl *nv = realloc(o->v, (size_t)ncap * sizeof(*nv));
        if (!nv)
            return ZSYSTEMERROR;
        o->v = nv;
        o->cap = ncap;
    }
    struct zk_acl *a = &o->v[o->n];
    a->perms = perms;
    a->id.scheme = strdup(scheme);
    a->id.id = strdup(id);
    if (!a->id.scheme || !a->id.id) {
        free(a->id.scheme);
        free(a->id.id);
        return ZSYSTEMERROR;
    }
    o->n++;
    return ZOK;
}

int acl_fixup(const struct zk_acl *in, int32_t n, const struct zk_auth *auth, struct zk_acl **out, int32_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!in || n <= 0)
        return ZINVALIDACL;
    if (n > JUTE_MAX_VECTOR)
        return ZINVALIDACL;

    struct acl_vec o = {NULL, 0, 0};
    int32_t nkeep = 0;
    int32_t *keep = malloc((size_t)n * sizeof(*keep));
    if (!keep)
        return ZSYSTEMERROR;
    int rc = remove_duplicates(in, n, keep, &nkeep);
    if (rc != ZOK)
        goto out;

    for (int32_t k = 0; k < nkeep && rc == ZOK; k++) {
        const struct zk_acl *a = &in[keep[k]];
        const char *scheme = a->id.scheme, *id = a->id.id;
        if (!scheme) {
            rc = ZINVALIDACL;
        } else if (strcmp(scheme, SCHEME_AUTH) == 0) {
            bool any = false;
            for (int j = 0; auth && j < auth->n && rc == ZOK; j++) {
                /* of the built-in providers only digest says isAuthenticated() */
                if (str_eq(auth->ids[j].scheme, SCHEME_DIGEST)) {
                    any = true;
                    rc = vec_push(&o, a->perms, auth->ids[j].scheme, auth->ids[j].id);
                }
            }
            if (rc == ZOK && !any)
                rc = ZINVALIDACL;
        } else if (strcmp(scheme, SCHEME_WORLD) == 0 || strcmp(scheme, SCHEME_DIGEST) == 0 ||
                   strcmp(scheme, SCHEME_IP) == 0) {
            if (!id)
                rc = ZMARSHALLINGERROR; /* Java: id.equals("anyone") or isValid(null) */
            else if (strcmp(scheme, SCHEME_WORLD) == 0)
                rc = strcmp(id, "anyone") == 0 ? ZOK : ZINVALIDACL; /* no "world" provider */
            else if (strcmp(scheme, SCHEME_DIGEST) == 0)
                rc = acl_digest_valid(id) ? ZOK : ZINVALIDACL;
            else
                rc = acl_ip_valid(id) ? ZOK : ZINVALIDACL;
            if (rc == ZOK)
                rc = vec_push(&o, a->perms, scheme, id);
        } else {
            rc = ZINVALIDACL; /* no provider for the scheme */
        }
    }
out:
    free(keep);
    if (rc != ZOK) {
        jute_free_acls(o.v, o.n);
        return rc;
    }
    *out = o.v;
    *nout = o.n;
    return ZOK;
}

/* ======================= getACL without ADMIN ======================= */

/* Length of the line terminator at p (Java regex '.' does not match \n, \r, U+0085,
 * U+2028, U+2029), or 0. */
static size_t line_term(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] == '\n' || u[0] == '\r')
        return 1;
    if (u[0] == 0xc2 && u[1] == 0x85)
        return 2;
    if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
        return 3;
    return 0;
}

/* replaceAll(":.*", ":x") */
static char *hide_one(const char *s)
{
    size_t n = strlen(s);
    /* each match is at least one byte and becomes two, so 2n bounds the result */
    char *r = malloc(2 * n + 1);
    if (!r)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != ':') {
            r[o++] = s[i++];
            continue;
        }
        r[o++] = ':';
        r[o++] = 'x';
        for (i++; i < n && !line_term(s + i); i++)
            ;
    }
    r[o] = '\0';
    return r;
}

int acl_hide_digests(const struct zk_acl *in, int32_t n, struct zk_acl **out)
{
    *out = NULL;
    if (n <= 0)
        return ZOK;
    struct zk_acl *v = calloc((size_t)n, sizeof(*v));
    if (!v)
        return ZSYSTEMERROR;
    for (int32_t i = 0; i < n; i++) {
        const struct zk_id *id = &in[i].id;
        v[i].perms = in[i].perms;
        if (id->scheme && !(v[i].id.scheme = strdup(id->scheme)))
            goto oom;
        if (!id->id)
            continue;
        v[i].id.id = str_eq(id->scheme, SCHEME_DIGEST) ? hide_one(id->id) : strdup(id->id);
        if (!v[i].id.id)
            goto oom;
    }
    *out = v;
    return ZOK;
oom:
    jute_free_acls(v, n);
    return ZSYSTEMERROR;
}
