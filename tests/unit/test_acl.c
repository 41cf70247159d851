/* Unit tests of zkfsd/digest and zkfsd/acl: SHA-1 and base64 vectors, digest ids checked
 * against the Java DigestAuthenticationProvider, and every rule of checkACL, fixupACL,
 * addAuth, the ACL interning cache and the getACL digest hiding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "common/zerr.h"
#include "zkfsd/acl.h"
#include "zkfsd/digest.h"

/* ---------- helpers ---------- */

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void check_sha1(const char *msg, const char *want)
{
    uint8_t h[SHA1_LEN];
    char got[2 * SHA1_LEN + 1];
    sha1(msg, strlen(msg), h);
    hex(h, sizeof(h), got);
    assert_string_equal(got, want);
}

// clang-format off
#define ACL(p, s, i) {(p), {(char *)(s), (char *)(i)}}
// clang-format on

/* An auth set from pairs of strings. */
static void auth_of(struct zk_auth *a, int n, const char *const *pairs)
{
    acl_auth_init(a);
    for (int i = 0; i < n; i++)
        assert_int_equal(acl_auth_add_id(a, pairs[2 * i], pairs[2 * i + 1]), ZOK);
}

static int check1(int32_t perms, const char *scheme, const char *id, int32_t want, const struct zk_auth *a)
{
    struct zk_acl v[1] = {ACL(perms, scheme, id)};
    return acl_check_list(v, 1, want, a);
}

static bool ipm(const char *id, const char *expr)
{
    return acl_ip_matches(id, expr);
}

/* ---------- SHA-1, base64, digest ---------- */

static void test_sha1_vectors(void **state)
{
    check_sha1("", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check_sha1("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
    /* 55/56/63/64/65 bytes straddle the padding boundaries */
    check_sha1("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    check_sha1("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    check_sha1("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    (void)state;
}

static void test_sha1_incremental_million_a(void **state)
{
    /* FIPS 180 long message, fed in odd-sized pieces to exercise the block buffer */
    static char buf[1000];
    memset(buf, 'a', sizeof(buf));
    struct sha1_ctx c;
    sha1_init(&c);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t k = step < left ? step : left;
        sha1_update(&c, buf, k);
        left -= k;
        step = step % 991 + 7; /* stays below sizeof(buf) */
    }
    uint8_t h[SHA1_LEN];
    char got[41];
    sha1_final(&c, h);
    hex(h, sizeof(h), got);
    assert_string_equal(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    (void)state;
}

static void test_base64(void **state)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_int_equal(base64_encode(in[i], strlen(in[i]), out, sizeof(out)), ZOK);
        assert_string_equal(out, want[i]);
    }
    const uint8_t hi[3] = {0xfb, 0xff, 0xbf};
    assert_int_equal(base64_encode(hi, 3, out, sizeof(out)), ZOK);
    assert_string_equal(out, "+/+/");
    /* exactly BASE64_LEN + 1 is enough, one less is not */
    assert_int_equal(base64_encode("foob", 4, out, 9), ZOK);
    memset(out, '#', sizeof(out));
    assert_int_equal(base64_encode("foob", 4, out, 8), ZBADARGUMENTS);
    assert_int_equal(out[0], '#');
    (void)state;
}

static void test_digest_generate_java_oracle(void **state)
{
    /* Expected values printed by
     * java -cp zookeeper.jar:... org.apache.zookeeper.server.auth.DigestAuthenticationProvider ARG */
    static const char *in[] = {"super:secret", "user:pa:ss", "nocolon", "", ":pw"};
    static const char *want[] = {
        "super:lK75jTNcA+U9vtVEw5vB51mj/w4=", "user:eGYxmOtrfaj/35Fq9lW7ol9psVU=",
        "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=", ":2jmj7l5rSw0yVb/vlWAYkK/YBwk=", ":krPDEYdCl854cFNT6IXnoMv+VVA="};
    char out[128];
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        assert_int_equal(digest_generate(in[i], strlen(in[i]), out, sizeof(out)), ZOK);
        assert_string_equal(out, want[i]);
    }
    /* "super:" + 28 + NUL = 35 bytes */
    assert_int_equal(digest_generate("super:secret", 12, out, 35), ZOK);
    assert_int_equal(digest_generate("super:secret", 12, out, 34), ZBADARGUMENTS);
    assert_int_equal(digest_generate("super:secret", 12, out, 0), ZBADARGUMENTS);
    (void)state;
}

/* Byte strings, the bytes Java's new String(bytes).getBytes(UTF_8) gives, and
 * generateDigest(new String(bytes)), all printed by a JDK 17 program. */
static const struct {
    const char *in, *norm, *digest;
} java_utf8_cases[] = {
    {"75ff3a70", "75efbfbd3a70", "u\xef\xbf\xbd:l7saPZ96spda1FgIteNEJCwhLXM="},
    {"c33aa9", "efbfbd3aefbfbd", "\xef\xbf\xbd:ipNoT9MRIoSM4DrYkmqaDGEYOsE="},
    {"753a70e280", "753a70efbfbd", "u:6CtHK7C6iAk/ZYK1Hf0L2NA4tRg="},
    {"ed", "efbfbd", "\xef\xbf\xbd:m9t3J2wYUuH7BnggRygS/PYIQCQ="},
    {"a080", "efbfbdefbfbd", "\xef\xbf\xbd\xef\xbf\xbd:h1Dsnd/ik80dw5tCRcIcJw+PUrc="},
    {"75eda0803a70", "75efbfbd3a70", "u\xef\xbf\xbd:l7saPZ96spda1FgIteNEJCwhLXM="},
    {"753af09f9880", "753af09f9880", "u:jJrVWxbcrh8H8NliuTU6Me6qGLY="},
    {"753af4908080", "753aefbfbdefbfbdefbfbdefbfbd", "u:HCZx0lTy+9lYQAH9rf604FmDKjw="},
    {"e080803a70", "efbfbdefbfbdefbfbd3a70", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd:klr8XcXvERXLexcF7FmW0pBUPqU="},
    {"c0803a70", "efbfbdefbfbd3a70", "\xef\xbf\xbd\xef\xbf\xbd:CHAajMjCV+FUX0fRvRN/qglqzJ0="},
    {"753af09f98", "753aefbfbd", "u:NP+S9gihaPOxs49p+sWDO0/R0ac="},
    {"f09f3a70", "efbfbd3a70", "\xef\xbf\xbd:CF2aQmKhCpl6NRwvXg6ky6/tkEA="},
    {"e2803a70", "efbfbd3a70", "\xef\xbf\xbd:CF2aQmKhCpl6NRwvXg6ky6/tkEA="},
    {"753ae282ac", "753ae282ac", "u:tjh8Qa+ow3sJroS3PD9fFqNKBF8="},
    {"c3a93a70", "c3a93a70", "\xc3\xa9:i2yZWwaaaqaCgqiR3D2f25743FA="},
};

static void test_java_utf8_and_auth_digest(void **state)
{
    for (size_t i = 0; i < sizeof(java_utf8_cases) / sizeof(java_utf8_cases[0]); i++) {
        uint8_t in[16], out[48];
        char got[100];
        size_t n = unhex(java_utf8_cases[i].in, in);
        size_t m = digest_java_utf8(in, n, out);
        hex(out, m, got);
        assert_string_equal(got, java_utf8_cases[i].norm);

        /* addAuth applies the same round trip before hashing */
        struct zk_auth a;
        acl_auth_init(&a);
        assert_int_equal(acl_auth_add(&a, "digest", in, (int32_t)n, NULL), ZOK);
        assert_int_equal(a.n, 1);
        assert_string_equal(a.ids[0].scheme, "digest");
        assert_string_equal(a.ids[0].id, java_utf8_cases[i].digest);
        acl_auth_free(&a);
    }
    (void)state;
}

/* ---------- checkACL ---------- */

static void test_check_each_perm_bit(void **state)
{
    static const int32_t bits[] = {ZPERM_READ, ZPERM_WRITE, ZPERM_CREATE, ZPERM_DELETE, ZPERM_ADMIN};
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++)
            assert_int_equal(check1(bits[i], "world", "anyone", bits[j], NULL), i == j ? ZOK : ZNOAUTH);
        assert_int_equal(check1(ZPERM_ALL, "world", "anyone", bits[i], NULL), ZOK);
        assert_int_equal(check1(ZPERM_ALL & ~bits[i], "world", "anyone", bits[i], NULL), ZNOAUTH);
    }
    /* a combined request is granted by any one of its bits (getACL asks READ|ADMIN) */
    assert_int_equal(check1(ZPERM_ADMIN, "world", "anyone", ZPERM_READ | ZPERM_ADMIN, NULL), ZOK);
    assert_int_equal(check1(ZPERM_WRITE, "world", "anyone", ZPERM_READ | ZPERM_ADMIN, NULL), ZNOAUTH);
    /* perms 0 grant nothing; requesting nothing is granted by nothing */
    assert_int_equal(check1(0, "world", "anyone", ZPERM_READ, NULL), ZNOAUTH);
    assert_int_equal(check1(ZPERM_ALL, "world", "anyone", 0, NULL), ZNOAUTH);
    /* the constants */
    assert_int_equal(acl_check_list(OPEN_ACL_UNSAFE, 1, ZPERM_ADMIN, NULL), ZOK);
    assert_int_equal(acl_check_list(READ_ACL_UNSAFE, 1, ZPERM_READ, NULL), ZOK);
    assert_int_equal(acl_check_list(READ_ACL_UNSAFE, 1, ZPERM_WRITE, NULL), ZNOAUTH);
    (void)state;
}

static void test_check_empty_and_null_acl_allow(void **state)
{
    struct acl_cache c;
    acl_cache_init(&c);
    struct zk_acl_set *empty = acl_intern(&c, NULL, 0);
    assert_non_null(empty);
    assert_int_equal(acl_check(empty, ZPERM_ADMIN, NULL), ZOK);
    assert_int_equal(acl_check(NULL, ZPERM_ADMIN, NULL), ZOK);
    assert_int_equal(acl_check_list(NULL, 0, ZPERM_READ, NULL), ZOK);
    acl_release(&c, empty);
    acl_cache_free(&c);
    (void)state;
}

static void test_check_super_and_world(void **state)
{
    struct zk_auth su, ip;
    auth_of(&su, 2, (const char *const[]){"ip", "10.0.0.1", "super", ""});
    auth_of(&ip, 1, (const char *const[]){"ip", "10.0.0.1"});
    /* super passes every list, even one granting nothing to anybody */
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:xyz=", ZPERM_ADMIN, &su), ZOK);
    assert_int_equal(check1(0, "ip", "1.1.1.1", ZPERM_WRITE, &su), ZOK);
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:xyz=", ZPERM_READ, &ip), ZNOAUTH);
    /* world: only "anyone" is special; world has no provider, so nothing else matches */
    assert_int_equal(check1(ZPERM_ALL, "world", "anyone", ZPERM_READ, &ip), ZOK);
    assert_int_equal(check1(ZPERM_ALL, "world", "Anyone", ZPERM_READ, &ip), ZNOAUTH);
    assert_int_equal(check1(ZPERM_ALL, "World", "anyone", ZPERM_READ, &ip), ZNOAUTH);
    struct zk_auth w;
    auth_of(&w, 1, (const char *const[]){"world", "bob"});
    assert_int_equal(check1(ZPERM_ALL, "world", "bob", ZPERM_READ, &w), ZNOAUTH);
    acl_auth_free(&w);
    acl_auth_free(&su);
    acl_auth_free(&ip);
    (void)state;
}

static void test_check_digest_scheme(void **state)
{
    struct zk_auth a;
    auth_of(&a, 2, (const char *const[]){"ip", "127.0.0.1", "digest", "bob:Sx3Yd0x6="});
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:Sx3Yd0x6=", ZPERM_READ, &a), ZOK);
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:Sx3Yd0x7=", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_READ, "digest", "Bob:Sx3Yd0x6=", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_WRITE, "digest", "bob:Sx3Yd0x6=", ZPERM_READ, &a), ZNOAUTH);
    /* the id must come from the same scheme */
    assert_int_equal(check1(ZPERM_READ, "digest", "127.0.0.1", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_READ, "ip", "bob:Sx3Yd0x6=", ZPERM_READ, &a), ZNOAUTH);
    /* a later entry can grant what an earlier one does not */
    struct zk_acl v[3] = {ACL(ZPERM_ALL, "digest", "eve:1"), ACL(ZPERM_READ, "digest", "bob:Sx3Yd0x6="),
                          ACL(ZPERM_WRITE, "digest", "bob:Sx3Yd0x6=")};
    assert_int_equal(acl_check_list(v, 3, ZPERM_WRITE, &a), ZOK);
    assert_int_equal(acl_check_list(v, 3, ZPERM_DELETE, &a), ZNOAUTH);
    assert_int_equal(acl_check_list(v, 3, ZPERM_DELETE, NULL), ZNOAUTH);
    acl_auth_free(&a);
    (void)state;
}

static void test_check_schemes_without_provider(void **state)
{
    /* an id of the connection with the same scheme and id still matches nothing */
    struct zk_auth a;
    auth_of(&a, 3, (const char *const[]){"sasl", "bob", "auth", "", "x509", "CN=bob"});
    assert_int_equal(check1(ZPERM_ALL, "sasl", "bob", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_ALL, "auth", "", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_ALL, "x509", "CN=bob", ZPERM_READ, &a), ZNOAUTH);
    struct zk_acl nul[1] = {ACL(ZPERM_ALL, NULL, NULL)};
    assert_int_equal(acl_check_list(nul, 1, ZPERM_READ, &a), ZNOAUTH);
    acl_auth_free(&a);
    (void)state;
}

static void test_check_ip_scheme(void **state)
{
    struct zk_auth a;
    auth_of(&a, 1, (const char *const[]){"ip", "192.168.10.7"});
    assert_int_equal(check1(ZPERM_READ, "ip", "192.168.10.7", ZPERM_READ, &a), ZOK);
    assert_int_equal(check1(ZPERM_READ, "ip", "192.168.0.0/16", ZPERM_READ, &a), ZOK);
    assert_int_equal(check1(ZPERM_READ, "ip", "192.168.11.0/24", ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(check1(ZPERM_WRITE, "ip", "192.168.0.0/16", ZPERM_READ, &a), ZNOAUTH);
    acl_auth_free(&a);
    (void)state;
}

static void test_ip_v4_matching(void **state)
{
    assert_true(ipm("10.1.2.3", "10.1.2.3"));
    assert_false(ipm("10.1.2.4", "10.1.2.3"));
    assert_true(ipm("10.1.2.3", "10.1.2.3/32"));
    assert_true(ipm("10.200.2.3", "10.0.0.0/8"));
    assert_false(ipm("11.0.0.1", "10.0.0.0/8"));
    assert_true(ipm("10.1.2.3", "10.1.2.0/23"));
    assert_true(ipm("10.1.3.255", "10.1.2.0/23"));
    assert_false(ipm("10.1.4.0", "10.1.2.0/23"));
    assert_true(ipm("10.1.2.3", "10.1.2.99/24")); /* host bits of the ACL are masked too */
    assert_true(ipm("8.8.8.8", "1.2.3.4/0"));
    assert_true(ipm("129.0.0.1", "128.0.0.0/1"));
    assert_false(ipm("127.0.0.1", "128.0.0.0/1"));
    /* Integer.parseInt accepts signs and leading zeros */
    assert_true(ipm("10.1.2.3", "010.001.+2.3"));
    assert_true(ipm("10.1.0.3", "10.1.-0.3"));
    assert_true(ipm("10.1.2.3", "10.1.2.3/+32"));
    /* bad masks and bad addresses never match */
    assert_false(ipm("10.1.2.3", "10.1.2.3/33"));
    assert_false(ipm("10.1.2.3", "10.1.2.3/-1"));
    assert_false(ipm("10.1.2.3", "10.1.2.3/"));
    assert_false(ipm("10.1.2.3", "10.1.2.3/x"));
    assert_false(ipm("10.1.2.3", "10.1.2.3/8/8"));
    assert_false(ipm("10.1.2.3", "10.1.2.3/99999999999"));
    assert_false(ipm("10.1.2.3", "10.1.2"));
    assert_false(ipm("10.1.2.3", "10.1.2.3.4"));
    assert_false(ipm("10.1.2.3", "10.1.2.256"));
    assert_false(ipm("10.1.2.3", "10.1..3"));
    assert_false(ipm("10.1.2.3", "10.1.2.3 "));
    assert_false(ipm("10.1.2.3", "localhost"));
    assert_false(ipm("10.1.2.3", "/8"));
    assert_false(ipm("10.1.2.3", ""));
    assert_false(ipm("bogus", "0.0.0.0/0"));
    assert_false(ipm("10.1.2.3", NULL));
    (void)state;
}

static void test_ip_v6_matching(void **state)
{
    /* Java spells peer addresses with eight uncompressed groups */
    const char *lo = "0:0:0:0:0:0:0:1";
    assert_true(ipm(lo, "::1"));
    assert_true(ipm(lo, "0:0:0:0:0:0:0:1"));
    assert_true(ipm(lo, "0000:0:0:0:0:0:0:0001/128"));
    assert_false(ipm(lo, "::2"));
    assert_true(ipm(lo, "::/0"));
    assert_true(ipm("fe80:0:0:0:1:2:3:4", "fe80::/10"));
    assert_true(ipm("febf:0:0:0:1:2:3:4", "FE80::/10"));
    assert_false(ipm("fec0:0:0:0:1:2:3:4", "fe80::/10"));
    assert_true(ipm("2001:db8:0:0:0:0:0:1", "2001:db8::/32"));
    assert_true(ipm("2001:db8:0:0:0:0:0:1", "2001:db8::1"));
    assert_true(ipm("1:0:0:0:0:0:0:0", "1::"));
    assert_true(ipm("0:0:0:0:0:0:0:0", "::"));
    assert_true(ipm("1:2:3:4:5:6:0:8", "1:2:3:4:5:6::8"));
    /* the group "-1" is parseInt(-1, 16): its low 16 bits are ffff */
    assert_true(ipm("ffff:0:0:0:0:0:0:1", "-1::1"));
    assert_true(ipm("f001:0:0:0:0:0:0:1", "-fff::1"));
    /* families never match each other */
    assert_false(ipm("10.0.0.1", "::/0"));
    assert_false(ipm(lo, "0.0.0.0/0"));
    /* bad masks */
    assert_false(ipm(lo, "::1/129"));
    assert_false(ipm(lo, "::1/-1"));
    assert_false(ipm(lo, "::1/"));
    /* bad addresses */
    assert_false(ipm(lo, "1::2::3"));
    assert_false(ipm(lo, ":::1"));
    assert_false(ipm(lo, "::::"));
    assert_false(ipm(lo, "1:2:3:4:5:6:7"));
    assert_false(ipm(lo, "1:2:3:4:5:6:7:8:9"));
    assert_false(ipm(lo, "1:2:3:4::5:6:7:8")); /* "::" standing for no group */
    assert_false(ipm(lo, "12345::1"));
    assert_false(ipm(lo, "g::1"));
    assert_false(ipm(lo, "::ffff:1.2.3.4"));
    assert_false(ipm(lo, "1:2:3:4:5:6:7:8:"));
    assert_false(ipm(lo, "::1%1"));
    /* a scoped peer id (link-local) never parses, so it never matches */
    assert_false(ipm("fe80:0:0:0:0:0:0:1%2", "fe80::/10"));
    (void)state;
}

static void test_ip_valid(void **state)
{
    static const char *good[] = {"1.2.3.4", "1.2.3.4/0", "1.2.3.4/32", "0.0.0.0",         "255.255.255.255",
                                 "::",      "::1/128",   "fe80::/10",  "1:2:3:4:5:6:7:8", "-0.1.2.3"};
    static const char *bad[] = {"",    "1.2.3.4/33", "1.2.3", "1.2.3.4/", "::1/129",   "1::2::3",
                                "abc", "1.2.3.4:80", "::g",   "1.2.3.-1", "1.2.3.4/a", "1.2.3.4/ 8"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(acl_ip_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(acl_ip_valid(bad[i]));
    assert_false(acl_ip_valid(NULL));
    (void)state;
}

static void test_ip_id_format(void **state)
{
    char out[ACL_IP_ID_MAX];
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.33", &s4.sin_addr);
    assert_int_equal(acl_ip_id((struct sockaddr *)&s4, out, sizeof(out)), ZOK);
    assert_string_equal(out, "192.0.2.33");

    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    assert_int_equal(acl_ip_id((struct sockaddr *)&s6, out, sizeof(out)), ZOK);
    assert_string_equal(out, "0:0:0:0:0:0:0:1");
    inet_pton(AF_INET6, "2001:DB8:0:0a0:ffff::1", &s6.sin6_addr);
    assert_int_equal(acl_ip_id((struct sockaddr *)&s6, out, sizeof(out)), ZOK);
    assert_string_equal(out, "2001:db8:0:a0:ffff:0:0:1");
    inet_pton(AF_INET6, "::ffff:10.9.8.7", &s6.sin6_addr);
    assert_int_equal(acl_ip_id((struct sockaddr *)&s6, out, sizeof(out)), ZOK);
    assert_string_equal(out, "10.9.8.7");
    inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &s6.sin6_addr);
    s6.sin6_scope_id = 4294967295u;
    assert_int_equal(acl_ip_id((struct sockaddr *)&s6, out, sizeof(out)), ZOK);
    assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295");
    inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr);
    s6.sin6_scope_id = 2;
    assert_int_equal(acl_ip_id((struct sockaddr *)&s6, out, sizeof(out)), ZOK);
    assert_string_equal(out, "fe80:0:0:0:0:0:0:1%2");

    struct sockaddr_un su = {.sun_family = AF_UNIX};
    assert_int_equal(acl_ip_id((struct sockaddr *)&su, out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(acl_ip_id((struct sockaddr *)&s4, out, 16), ZBADARGUMENTS);
    (void)state;
}

/* ---------- fixupACL ---------- */

static void test_fixup_rejects_null_and_empty(void **state)
{
    struct zk_acl *out = (struct zk_acl *)1;
    int32_t n = 7;
    assert_int_equal(acl_fixup(NULL, 0, NULL, &out, &n), ZINVALIDACL);
    assert_null(out);
    assert_int_equal(n, 0);
    struct zk_acl one[1] = {ACL(ZPERM_ALL, "world", "anyone")};
    assert_int_equal(acl_fixup(one, 0, NULL, &out, &n), ZINVALIDACL);
    assert_int_equal(acl_fixup(one, -1, NULL, &out, &n), ZINVALIDACL);
    assert_int_equal(acl_fixup(NULL, 3, NULL, &out, &n), ZINVALIDACL);
    (void)state;
}

static int fixup1(int32_t perms, const char *scheme, const char *id, const struct zk_auth *a)
{
    struct zk_acl v[1] = {ACL(perms, scheme, id)};
    struct zk_acl *out;
    int32_t n;
    int rc = acl_fixup(v, 1, a, &out, &n);
    if (rc == ZOK) {
        assert_int_equal(n, 1);
        assert_int_equal(out[0].perms, perms);
        assert_string_equal(out[0].id.scheme, scheme);
        assert_string_equal(out[0].id.id, id);
        jute_free_acls(out, n);
    } else {
        assert_null(out);
        assert_int_equal(n, 0);
    }
    return rc;
}

static void test_fixup_schemes(void **state)
{
    /* world: only anyone */
    assert_int_equal(fixup1(ZPERM_ALL, "world", "anyone", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_ALL, "world", "bob", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_ALL, "world", "", NULL), ZINVALIDACL);
    /* digest: Java's split(":") must give two parts */
    assert_int_equal(fixup1(ZPERM_READ, "digest", "bob:hash=", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_READ, "digest", ":hash", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "bob:hash::", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "bob", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "bob:", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "bob::h", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "a:b:c", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", "", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", ":", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "digest", ":::", NULL), ZINVALIDACL);
    /* ip: must parse, masks in range */
    assert_int_equal(fixup1(ZPERM_READ, "ip", "10.0.0.0/8", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_READ, "ip", "::1", NULL), ZOK);
    assert_int_equal(fixup1(ZPERM_READ, "ip", "10.0.0.0/33", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "ip", "10.0.0", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "ip", "host.example", NULL), ZINVALIDACL);
    /* schemes without a provider */
    assert_int_equal(fixup1(ZPERM_READ, "super", "", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "sasl", "bob", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "x509", "CN=bob", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "Digest", "bob:h", NULL), ZINVALIDACL);
    assert_int_equal(fixup1(ZPERM_READ, "", "", NULL), ZINVALIDACL);
    /* perms are not validated */
    assert_int_equal(fixup1(0, "world", "anyone", NULL), ZOK);
    assert_int_equal(fixup1(-1, "world", "anyone", NULL), ZOK);
    (void)state;
}

static void test_fixup_auth_expansion(void **state)
{
    struct zk_acl *out;
    int32_t n;
    /* no authenticated ids at all, or only ip (not isAuthenticated) and super (no provider) */
    struct zk_auth none, iponly, su;
    acl_auth_init(&none);
    auth_of(&iponly, 1, (const char *const[]){"ip", "127.0.0.1"});
    auth_of(&su, 2, (const char *const[]){"ip", "127.0.0.1", "super", ""});
    assert_int_equal(acl_fixup(CREATOR_ALL_ACL, 1, NULL, &out, &n), ZINVALIDACL);
    assert_int_equal(acl_fixup(CREATOR_ALL_ACL, 1, &none, &out, &n), ZINVALIDACL);
    assert_int_equal(acl_fixup(CREATOR_ALL_ACL, 1, &iponly, &out, &n), ZINVALIDACL);
    assert_int_equal(acl_fixup(CREATOR_ALL_ACL, 1, &su, &out, &n), ZINVALIDACL);

    /* every digest id of the connection, with the entry's perms, in place of the entry */
    struct zk_auth a;
    auth_of(&a, 4, (const char *const[]){"ip", "127.0.0.1", "digest", "bob:B=", "super", "", "digest", "al:A="});
    struct zk_acl v[3] = {ACL(ZPERM_READ, "world", "anyone"), ACL(ZPERM_WRITE | ZPERM_ADMIN, "auth", "ignored"),
                          ACL(ZPERM_DELETE, "ip", "10.0.0.0/8")};
    assert_int_equal(acl_fixup(v, 3, &a, &out, &n), ZOK);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].id.scheme, "world");
    assert_int_equal(out[1].perms, ZPERM_WRITE | ZPERM_ADMIN);
    assert_string_equal(out[1].id.scheme, "digest");
    assert_string_equal(out[1].id.id, "bob:B=");
    assert_int_equal(out[2].perms, ZPERM_WRITE | ZPERM_ADMIN);
    assert_string_equal(out[2].id.id, "al:A=");
    assert_string_equal(out[3].id.scheme, "ip");
    jute_free_acls(out, n);

    /* an "auth" entry with a null id is fine; the result is not de-duplicated again */
    struct zk_acl w[2] = {ACL(ZPERM_ALL, "auth", NULL), ACL(ZPERM_ALL, "digest", "bob:B=")};
    assert_int_equal(acl_fixup(w, 2, &a, &out, &n), ZOK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].id.id, "bob:B=");
    assert_string_equal(out[2].id.id, "bob:B=");
    jute_free_acls(out, n);

    /* the CREATOR_ALL_ACL constant */
    assert_int_equal(acl_fixup(CREATOR_ALL_ACL, 1, &a, &out, &n), ZOK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].perms, ZPERM_ALL);
    jute_free_acls(out, n);

    acl_auth_free(&a);
    acl_auth_free(&iponly);
    acl_auth_free(&su);
    (void)state;
}

static void test_fixup_duplicates(void **state)
{
    struct zk_acl v[6] = {ACL(ZPERM_READ, "ip", "10.0.0.1"), ACL(ZPERM_ALL, "world", "anyone"),
                          ACL(ZPERM_READ, "ip", "10.0.0.1"), ACL(ZPERM_WRITE, "ip", "10.0.0.1"),
                          ACL(ZPERM_ALL, "world", "anyone"), ACL(ZPERM_READ, "ip", "10.0.0.01")};
    struct zk_acl *out;
    int32_t n;
    assert_int_equal(acl_fixup(v, 6, NULL, &out, &n), ZOK);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].perms, ZPERM_READ);
    assert_string_equal(out[1].id.scheme, "world");
    assert_int_equal(out[2].perms, ZPERM_WRITE);    /* same id, other perms: kept */
    assert_string_equal(out[3].id.id, "10.0.0.01"); /* compared as strings, not addresses */
    jute_free_acls(out, n);

    /* an invalid entry fails the list even when a valid one came first */
    struct zk_acl bad[2] = {ACL(ZPERM_ALL, "world", "anyone"), ACL(ZPERM_ALL, "world", "nobody")};
    assert_int_equal(acl_fixup(bad, 2, NULL, &out, &n), ZINVALIDACL);
    assert_null(out);
    (void)state;
}

static void test_fixup_null_strings(void **state)
{
    struct zk_acl *out;
    int32_t n;
    /* a lone NULL scheme is caught by the explicit check */
    struct zk_acl a[1] = {ACL(ZPERM_ALL, NULL, "x")};
    assert_int_equal(acl_fixup(a, 1, NULL, &out, &n), ZINVALIDACL);
    /* NULL ids where Java dereferences them: NullPointerException -> MARSHALLINGERROR */
    assert_int_equal(fixup1(ZPERM_ALL, "world", NULL, NULL), ZMARSHALLINGERROR);
    assert_int_equal(fixup1(ZPERM_ALL, "digest", NULL, NULL), ZMARSHALLINGERROR);
    assert_int_equal(fixup1(ZPERM_ALL, "ip", NULL, NULL), ZMARSHALLINGERROR);
    assert_int_equal(fixup1(ZPERM_ALL, "sasl", NULL, NULL), ZINVALIDACL); /* no provider: never looked at */
    /* removeDuplicates: a NULL scheme after an entry with the same perms throws ... */
    struct zk_acl b[2] = {ACL(ZPERM_READ, "world", "anyone"), ACL(ZPERM_READ, NULL, "x")};
    assert_int_equal(acl_fixup(b, 2, NULL, &out, &n), ZMARSHALLINGERROR);
    /* ... with other perms it survives to be rejected as invalid */
    struct zk_acl c[2] = {ACL(ZPERM_READ, "world", "anyone"), ACL(ZPERM_WRITE, NULL, "x")};
    assert_int_equal(acl_fixup(c, 2, NULL, &out, &n), ZINVALIDACL);
    /* a NULL id throws after an entry with the same perms and scheme, whatever its id */
    struct zk_acl d[2] = {ACL(ZPERM_READ, "sasl", "bob"), ACL(ZPERM_READ, "sasl", NULL)};
    assert_int_equal(acl_fixup(d, 2, NULL, &out, &n), ZMARSHALLINGERROR);
    struct zk_acl e[2] = {ACL(ZPERM_READ, "sasl", "bob"), ACL(ZPERM_READ, "sas", NULL)};
    assert_int_equal(acl_fixup(e, 2, NULL, &out, &n), ZINVALIDACL);
    /* duplicate removal runs to the end before any entry is validated */
    struct zk_acl f[3] = {ACL(ZPERM_READ, "bogus", "x"), ACL(ZPERM_WRITE, "world", "anyone"),
                          ACL(ZPERM_WRITE, NULL, NULL)};
    assert_int_equal(acl_fixup(f, 3, NULL, &out, &n), ZMARSHALLINGERROR);
    /* entries with NULL strings kept earlier do not equal later full ones */
    struct zk_acl g[2] = {ACL(ZPERM_READ, "auth", NULL), ACL(ZPERM_READ, "auth", "")};
    struct zk_auth au;
    auth_of(&au, 1, (const char *const[]){"digest", "u:h"});
    assert_int_equal(acl_fixup(g, 2, &au, &out, &n), ZOK);
    assert_int_equal(n, 2);
    jute_free_acls(out, n);
    acl_auth_free(&au);
    (void)state;
}

/* ---------- addAuth and the connection's ids ---------- */

static void test_auth_ids_set(void **state)
{
    struct zk_auth a;
    acl_auth_init(&a);
    assert_int_equal(acl_auth_add_id(&a, "ip", "1.2.3.4"), ZOK);
    assert_int_equal(acl_auth_add_id(&a, "ip", "1.2.3.4"), ZOK);
    assert_int_equal(acl_auth_add_id(&a, "digest", "1.2.3.4"), ZOK);
    assert_int_equal(a.n, 2);
    assert_true(acl_auth_has(&a, "ip", "1.2.3.4"));
    assert_false(acl_auth_has(&a, "ip", "1.2.3.5"));
    assert_int_equal(acl_auth_add_id(&a, NULL, "x"), ZBADARGUMENTS);
    assert_int_equal(acl_auth_add_id(&a, "x", NULL), ZBADARGUMENTS);
    struct zk_auth b;
    assert_int_equal(acl_auth_copy(&b, &a), ZOK);
    acl_auth_free(&a);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.ids[1].scheme, "digest");
    acl_auth_free(&b);
    acl_auth_free(&b); /* idempotent */
    (void)state;
}

static void test_auth_add_digest_and_super(void **state)
{
    struct zk_auth a;
    auth_of(&a, 1, (const char *const[]){"ip", "127.0.0.1"});
    const char *su = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";
    /* wrong password: just a digest id */
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"super:wrong", 11, su), ZOK);
    assert_int_equal(a.n, 2);
    assert_false(acl_auth_has(&a, "super", ""));
    /* the super password adds ("super", "") and the digest id */
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"super:secret", 12, su), ZOK);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.ids[2].scheme, "super");
    assert_string_equal(a.ids[2].id, "");
    assert_string_equal(a.ids[3].id, su);
    /* adding it again changes nothing */
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"super:secret", 12, su), ZOK);
    assert_int_equal(a.n, 4);
    /* no superDigest configured: never super */
    struct zk_auth b;
    acl_auth_init(&b);
    assert_int_equal(acl_auth_add(&b, "digest", (const uint8_t *)"super:secret", 12, NULL), ZOK);
    assert_int_equal(b.n, 1);
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:x", ZPERM_READ, &b), ZNOAUTH);
    assert_int_equal(check1(ZPERM_READ, "digest", "bob:x", ZPERM_READ, &a), ZOK);
    acl_auth_free(&a);
    acl_auth_free(&b);
    (void)state;
}

static void test_auth_add_then_check(void **state)
{
    /* the id a client gets from addAuth is the one an ACL built with generateDigest names */
    char id[128];
    assert_int_equal(digest_generate("bob:pw:with:colons", 18, id, sizeof(id)), ZOK);
    struct zk_acl v[1] = {ACL(ZPERM_READ, "digest", id)};
    struct zk_auth a;
    acl_auth_init(&a);
    assert_int_equal(acl_check_list(v, 1, ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"bob:pw:with:colon", 17, NULL), ZOK);
    assert_int_equal(acl_check_list(v, 1, ZPERM_READ, &a), ZNOAUTH);
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"bob:pw:with:colons", 18, NULL), ZOK);
    assert_int_equal(acl_check_list(v, 1, ZPERM_READ, &a), ZOK);
    acl_auth_free(&a);
    (void)state;
}

static void test_auth_add_failures(void **state)
{
    struct zk_auth a;
    acl_auth_init(&a);
    const uint8_t *pw = (const uint8_t *)"u:p";
    assert_int_equal(acl_auth_add(&a, NULL, pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "world", pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "super", pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "auth", pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "sasl", pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "Digest", pw, 3, NULL), ZAUTHFAILED);
    assert_int_equal(acl_auth_add(&a, "digest", NULL, -1, NULL), ZAUTHFAILED);
    /* a NUL in the user name is refused; in the password it is just hashed */
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"u\0v:p", 5, NULL), ZAUTHFAILED);
    assert_int_equal(a.n, 0);
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"uv:p\0q", 6, NULL), ZOK);
    assert_int_equal(a.n, 1);
    assert_memory_equal(a.ids[0].id, "uv:", 3);
    assert_int_equal(strlen(a.ids[0].id), 3 + DIGEST_HASH_B64_LEN);
    /* "ip": the Java provider re-adds the peer address the connection already has */
    assert_int_equal(acl_auth_add(&a, "ip", pw, 3, NULL), ZOK);
    assert_int_equal(a.n, 1);
    /* empty credentials are credentials (Java hashes "") */
    assert_int_equal(acl_auth_add(&a, "digest", (const uint8_t *)"", 0, NULL), ZOK);
    assert_string_equal(a.ids[1].id, ":2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    acl_auth_free(&a);
    (void)state;
}

static void test_user_name(void **state)
{
    char *u;
    struct zk_id d = {(char *)"digest", (char *)"bob:hash="}, i = {(char *)"ip", (char *)"10.0.0.1"},
                 s = {(char *)"super", (char *)""};
    assert_int_equal(acl_user_name(&d, &u), ZOK);
    assert_string_equal(u, "bob");
    free(u);
    assert_int_equal(acl_user_name(&i, &u), ZOK);
    assert_string_equal(u, "10.0.0.1");
    free(u);
    assert_int_equal(acl_user_name(&s, &u), ZOK);
    assert_string_equal(u, "");
    free(u);
    (void)state;
}

/* ---------- interning ---------- */

static void test_intern_shares_and_counts(void **state)
{
    struct acl_cache c;
    acl_cache_init(&c);
    char scheme[] = "digest", id[] = "bob:h=";
    struct zk_acl v[2] = {{ZPERM_READ, {scheme, id}}, ACL(ZPERM_ALL, "world", "anyone")};
    struct zk_acl_set *s1 = acl_intern(&c, v, 2);
    assert_non_null(s1);
    assert_int_equal(s1->refs, 1);
    /* the set is a copy: changing the caller's strings changes neither it nor its key */
    id[0] = 'B';
    struct zk_acl_set *s2 = acl_intern(&c, v, 2);
    assert_ptr_not_equal(s1, s2);
    assert_string_equal(s1->v[0].id.id, "bob:h=");
    assert_string_equal(s2->v[0].id.id, "Bob:h=");
    id[0] = 'b';
    struct zk_acl_set *s3 = acl_intern(&c, v, 2);
    assert_ptr_equal(s1, s3);
    assert_int_equal(s1->refs, 2);
    assert_int_equal(acl_cache_size(&c), 2);
    assert_int_equal(s1->n, 2);
    assert_int_equal(s1->v[0].perms, ZPERM_READ);
    assert_string_equal(s1->v[0].id.scheme, "digest");
    assert_int_equal(s1->v[1].perms, ZPERM_ALL);
    assert_string_equal(s1->v[1].id.id, "anyone");

    /* order and perms are part of the identity */
    struct zk_acl r[2] = {v[1], v[0]};
    struct zk_acl_set *s4 = acl_intern(&c, r, 2);
    assert_ptr_not_equal(s4, s1);
    struct zk_acl p[2] = {v[0], v[1]};
    p[1].perms = ZPERM_READ;
    struct zk_acl_set *s5 = acl_intern(&c, p, 2);
    assert_ptr_not_equal(s5, s1);
    assert_int_equal(acl_cache_size(&c), 4);

    /* the constants intern like any list */
    struct zk_acl_set *o1 = acl_intern(&c, OPEN_ACL_UNSAFE, 1);
    struct zk_acl_set *o2 = acl_intern(&c, OPEN_ACL_UNSAFE, 1);
    assert_ptr_equal(o1, o2);
    assert_ptr_equal(acl_retain(o1), o1);
    assert_int_equal(o1->refs, 3);

    /* releasing the last reference drops the list from the cache */
    acl_release(&c, s1);
    assert_int_equal(acl_cache_size(&c), 5);
    acl_release(&c, s3);
    assert_int_equal(acl_cache_size(&c), 4);
    struct zk_acl_set *s6 = acl_intern(&c, v, 2);
    assert_int_equal(s6->refs, 1);
    assert_int_equal(acl_cache_size(&c), 5);
    acl_release(&c, NULL);
    acl_release(&c, s2);
    acl_release(&c, s4);
    acl_release(&c, s5);
    acl_release(&c, s6);
    acl_release(&c, o1);
    acl_release(&c, o1);
    assert_int_equal(acl_cache_size(&c), 1);
    acl_release(&c, o2);
    assert_int_equal(acl_cache_size(&c), 0);
    acl_cache_free(&c);
    (void)state;
}

static void test_intern_null_strings_and_limits(void **state)
{
    struct acl_cache c;
    acl_cache_init(&c);
    struct zk_acl a[1] = {ACL(1, NULL, "")}, b[1] = {ACL(1, "", NULL)}, d[1] = {ACL(1, "", "")};
    struct zk_acl_set *sa = acl_intern(&c, a, 1), *sb = acl_intern(&c, b, 1), *sd = acl_intern(&c, d, 1);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_non_null(sd);
    assert_ptr_not_equal(sa, sb);
    assert_ptr_not_equal(sa, sd);
    assert_ptr_not_equal(sb, sd);
    assert_null(sa->v[0].id.scheme);
    assert_string_equal(sa->v[0].id.id, "");
    assert_null(sb->v[0].id.id);
    /* empty and non-empty lists differ */
    struct zk_acl_set *e = acl_intern(&c, NULL, 0);
    assert_non_null(e);
    assert_int_equal(e->n, 0);
    assert_null(acl_intern(&c, d, -1));
    assert_null(acl_intern(&c, NULL, 1));
    assert_int_equal(acl_cache_size(&c), 4);
    /* freeing the cache frees what is still referenced */
    acl_cache_free(&c);
    (void)state;
}

/* ---------- getACL without ADMIN ---------- */

static void test_hide_digests(void **state)
{
    struct zk_acl v[7] = {ACL(ZPERM_ALL, "digest", "bob:Sx3Yd0x6+/="),
                          ACL(ZPERM_READ, "ip", "10.0.0.1"),
                          ACL(ZPERM_READ, "world", "anyone"),
                          ACL(ZPERM_READ, "digest", "nocolon"),
                          ACL(ZPERM_READ, "digest", "u:a\nb:c\r\nd"),
                          ACL(ZPERM_READ, "digest", "u:a\xe2\x80\xa8z:q\xc2\x85k"),
                          ACL(ZPERM_READ, "digest", ":h")};
    struct zk_acl *out;
    assert_int_equal(acl_hide_digests(v, 7, &out), ZOK);
    assert_int_equal(out[0].perms, ZPERM_ALL);
    assert_string_equal(out[0].id.scheme, "digest");
    assert_string_equal(out[0].id.id, "bob:x");
    assert_string_equal(out[1].id.id, "10.0.0.1");
    assert_string_equal(out[2].id.id, "anyone");
    assert_string_equal(out[3].id.id, "nocolon");
    /* Java's '.' stops at line terminators, so each line's tail is replaced separately */
    assert_string_equal(out[4].id.id, "u:x\nb:x\r\nd");
    assert_string_equal(out[5].id.id, "u:x\xe2\x80\xa8z:x\xc2\x85k");
    assert_string_equal(out[6].id.id, ":x");
    jute_free_acls(out, 7);
    assert_int_equal(acl_hide_digests(v, 0, &out), ZOK);
    assert_null(out);
    struct zk_acl n[1] = {ACL(1, NULL, NULL)};
    assert_int_equal(acl_hide_digests(n, 1, &out), ZOK);
    assert_null(out[0].id.scheme);
    jute_free_acls(out, 1);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_sha1_incremental_million_a),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_digest_generate_java_oracle),
        cmocka_unit_test(test_java_utf8_and_auth_digest),
        cmocka_unit_test(test_check_each_perm_bit),
        cmocka_unit_test(test_check_empty_and_null_acl_allow),
        cmocka_unit_test(test_check_super_and_world),
        cmocka_unit_test(test_check_digest_scheme),
        cmocka_unit_test(test_check_schemes_without_provider),
        cmocka_unit_test(test_check_ip_scheme),
        cmocka_unit_test(test_ip_v4_matching),
        cmocka_unit_test(test_ip_v6_matching),
        cmocka_unit_test(test_ip_valid),
        cmocka_unit_test(test_ip_id_format),
        cmocka_unit_test(test_fixup_rejects_null_and_empty),
        cmocka_unit_test(test_fixup_schemes),
        cmocka_unit_test(test_fixup_auth_expansion),
        cmocka_unit_test(test_fixup_duplicates),
        cmocka_unit_test(test_fixup_null_strings),
        cmocka_unit_test(test_auth_ids_set),
        cmocka_unit_test(test_auth_add_digest_and_super),
        cmocka_unit_test(test_auth_add_then_check),
        cmocka_unit_test(test_auth_add_failures),
        cmocka_unit_test(test_user_name),
        cmocka_unit_test(test_intern_shares_and_counts),
        cmocka_unit_test(test_intern_null_strings_and_limits),
        cmocka_unit_test(test_hide_digests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
