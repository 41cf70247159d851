/* SHA-1, base64 and the digest-scheme id; see digest.h for the contracts. */
#include "zkfsd/digest.h"

#include <assert.h>
#include <string.h>

#include "common/zerr.h"

/* ---- SHA-1 (FIPS 180-4 section 6.1) ---- */

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha1_block(uint32_t h[5], const uint8_t *blk)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(blk + 4 * t);
    for (int t = 16; t < 80; t++)
        w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_init(struct sha1_ctx *c)
{
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    memcpy(c->h, iv, sizeof(iv));
    c->nbytes = 0;
    c->nbuf = 0;
}

void sha1_update(struct sha1_ctx *c, const void *p, size_t n)
{
    const uint8_t *in = p;
    c->nbytes += n;
    if (c->nbuf) {
        size_t take = SHA1_BLOCK - c->nbuf;
        if (take > n)
            take = n;
        memcpy(c->buf + c->nbuf, in, take);
        c->nbuf += take;
        in += take;
        n -= take;
        if (c->nbuf < SHA1_BLOCK)
            return;
        sha1_block(c->h, c->buf);
        c->nbuf = 0;
    }
    for (; n >= SHA1_BLOCK; in += SHA1_BLOCK, n -= SHA1_BLOCK)
        sha1_block(c->h, in);
    if (n) {
        memcpy(c->buf, in, n);
        c->nbuf = n;
    }
}

void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_LEN])
{
    uint64_t bits = c->nbytes * 8;
    c->buf[c->nbuf++] = 0x80;
    if (c->nbuf > SHA1_BLOCK - 8) {
        memset(c->buf + c->nbuf, 0, SHA1_BLOCK - c->nbuf);
        sha1_block(c->h, c->buf);
        c->nbuf = 0;
    }
    memset(c->buf + c->nbuf, 0, SHA1_BLOCK - 8 - c->nbuf);
    for (int i = 0; i < 8; i++)
        c->buf[SHA1_BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(c->h, c->buf);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void sha1(const void *p, size_t n, uint8_t out[SHA1_LEN])
{
    struct sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, p, n);
    sha1_final(&c, out);
}

/* ---- base64 ---- */

int base64_encode(const void *in, size_t n, char *out, size_t outsz)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    /* n > SIZE_MAX / 2 would overflow BASE64_LEN; no caller comes near it */
    if (n > SIZE_MAX / 2 || outsz < BASE64_LEN(n) + 1)
        return ZBADARGUMENTS;
    const uint8_t *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)p[i] << 16;
        if (left > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[o++] = abc[(v >> 18) & 0x3f];
        out[o++] = abc[(v >> 12) & 0x3f];
        out[o++] = left > 1 ? abc[(v >> 6) & 0x3f] : '=';
        out[o++] = left > 2 ? abc[v & 0x3f] : '=';
    }
    out[o] = '\0';
    return ZOK;
}

/* ---- the JDK's bytes -> String -> UTF-8 round trip ---- */

static int is_cont(uint8_t b)
{
    return (b & 0xc0) == 0x80;
}

/* Second byte of a 4-byte sequence that already rules the sequence out (over-long F0,
 * beyond U+10FFFF from F4, or not a continuation byte). */
static int bad4_second(uint8_t b1, uint8_t b2)
{
    return (b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf)) || (b1 == 0xf4 && (b2 & 0xf0) != 0x80) || !is_cont(b2);
}

size_t digest_java_utf8(const uint8_t *in, size_t n, uint8_t *out)
{
    static const uint8_t repl[3] = {0xef, 0xbf, 0xbd}; /* U+FFFD */
    size_t i = 0, o = 0;
#define PUT_REPL() (memcpy(out + o, repl, 3), o += 3)
    while (i < n) {
        uint8_t b1 = in[i++];
        if (b1 < 0x80) {
            out[o++] = b1;
        } else if (b1 >= 0xc2 && b1 <= 0xdf) {
            if (i >= n) { /* truncated at the end */
                PUT_REPL();
                break;
            }
            if (!is_cont(in[i])) {
                PUT_REPL(); /* only the lead byte is consumed */
                continue;
            }
            out[o++] = b1;
            out[o++] = in[i++];
        } else if (b1 >= 0xe0 && b1 <= 0xef) {
            if (i + 1 < n) {
                uint8_t b2 = in[i], b3 = in[i + 1];
                int bad2 = (b1 == 0xe0 && (b2 & 0xe0) == 0x80) || !is_cont(b2);
                if (bad2 || !is_cont(b3)) {
                    /* one U+FFFD for the lead byte, or for lead + a good second byte */
                    PUT_REPL();
                    i += bad2 ? 0 : 1;
                    continue;
                }
                uint32_t cp = (uint32_t)(b1 & 0x0f) << 12 | (uint32_t)(b2 & 0x3f) << 6 | (b3 & 0x3f);
                if (cp >= 0xd800 && cp <= 0xdfff) {
                    PUT_REPL(); /* an encoded surrogate: all three bytes become one U+FFFD */
                } else {
                    out[o++] = b1;
                    out[o++] = b2;
                    out[o++] = b3;
                }
                i += 2;
                continue;
            }
            if (i < n && ((b1 == 0xe0 && (in[i] & 0xe0) == 0x80) || !is_cont(in[i]))) {
                PUT_REPL();
                continue;
            }
            PUT_REPL(); /* a truncated but so far valid sequence ends the input */
            break;
        } else if (b1 >= 0xf0 && b1 <= 0xf7) {
            if (i + 2 < n) {
                uint8_t b2 = in[i], b3 = in[i + 1], b4 = in[i + 2];
                uint32_t cp = (uint32_t)(b1 & 0x07) << 18 | (uint32_t)(b2 & 0x3f) << 12 | (uint32_t)(b3 & 0x3f) << 6 |
                              (b4 & 0x3f);
                if (!is_cont(b2) || !is_cont(b3) || !is_cont(b4) || cp < 0x10000 || cp > 0x10ffff) {
                    PUT_REPL();
                    /* skip the longest prefix that could still have been valid */
                    if (b1 > 0xf4 || bad4_second(b1, b2))
                        ;
                    else if (!is_cont(b3))
                        i += 1;
                    else
                        i += 2;
                    continue;
                }
                memcpy(out + o, in + i - 1, 4);
                o += 4;
                i += 3;
                continue;
            }
            if (b1 > 0xf4 || (i < n && bad4_second(b1, in[i]))) {
                PUT_REPL();
                continue;
            }
            /* truncated: lead and a good second byte become one U+FFFD; a third byte that
             * is a continuation is swallowed too (it can only be the last byte) */
            i++;
            PUT_REPL();
            if (i < n && !is_cont(in[i]))
                continue;
            break;
        } else {
            PUT_REPL(); /* stray continuation byte, C0/C1, F8..FF */
        }
    }
#undef PUT_REPL
    return o;
}

/* ---- the digest id ---- */

int digest_generate(const char *user_colon_password, size_t len, char *out, size_t outsz)
{
    const char *colon = memchr(user_colon_password, ':', len);
    size_t ulen = colon ? (size_t)(colon - user_colon_password) : len;
    if (outsz < 2 + DIGEST_HASH_B64_LEN || ulen > outsz - 2 - DIGEST_HASH_B64_LEN)
        return ZBADARGUMENTS;
    uint8_t h[SHA1_LEN];
    sha1(user_colon_password, len, h);
    memcpy(out, user_colon_password, ulen);
    out[ulen] = ':';
    int rc = base64_encode(h, sizeof(h), out + ulen + 1, outsz - ulen - 1);
    assert(rc == ZOK); /* the size was checked above */
    return rc;
}
