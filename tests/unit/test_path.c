/* Unit tests for common/path: ZooKeeper's path validation (PathUtils.validatePath and its
 * tests, applied to UTF-8 bytes the way the Java server decodes them) and the helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/path.h"
#include "common/zerr.h"

static int valid(const char *p)
{
    return path_validate(p, strlen(p), 0, NULL) == ZOK;
}
static int valid_seq(const char *p)
{
    return path_validate(p, strlen(p), 1, NULL) == ZOK;
}
static int valid_n(const char *p, size_t n)
{
    return path_validate(p, n, 0, NULL) == ZOK;
}

static const char *why_of(const char *p, size_t n, int seq)
{
    const char *why = "unset";
    int r = path_validate(p, n, seq, &why);
    if (r == ZOK)
        assert_null(why);
    else
        assert_int_equal(r, ZBADARGUMENTS);
    return why;
}

/* PathUtilsTest's cases, one for one. */
static void test_java_cases(void **state)
{
    (void)state;
    assert_true(valid("/this is / a valid/path"));
    assert_int_equal(path_validate(NULL, 0, 0, NULL), ZBADARGUMENTS);
    assert_false(valid(""));
    assert_false(valid("not/valid"));
    assert_false(valid("/ends/with/slash/"));
    assert_false(valid_n("/test\0", 6));
    assert_false(valid("/double//slash"));
    assert_false(valid("/single/./period"));
    assert_false(valid("/double/../period"));
    assert_true(valid("/name/with.period."));
    assert_false(valid("/test\x01"));
    assert_false(valid("/test\x1f"));
    assert_true(valid("/test\x20"));
    assert_true(valid("/test\x7e"));
    assert_false(valid("/test\x7f"));
    assert_false(valid("/test\xc2\x9f"));     /* U+009F */
    assert_false(valid("/test\xef\xa3\xbf")); /* U+F8FF */
    assert_true(valid("/test\xef\xbf\xaf"));  /* U+FFEF, the highest allowed */
    assert_false(valid("/test\xef\xbf\xb0")); /* U+FFF0 */
}

static void test_structure(void **state)
{
    (void)state;
    assert_true(valid("/"));
    assert_true(valid("/a"));
    assert_true(valid("/a/b/c"));
    assert_true(valid("/..."));
    assert_true(valid("/a/..."));
    assert_true(valid("/.a"));
    assert_true(valid("/a."));
    assert_true(valid("/..a"));
    assert_true(valid("/a.."));
    assert_true(valid("/a/.b/..c"));
    assert_true(valid("/zookeeper")); /* reserved for writes, but a valid path */
    assert_false(valid("//"));
    assert_false(valid("//a"));
    assert_false(valid("/a//b"));
    assert_false(valid("/."));
    assert_false(valid("/.."));
    assert_false(valid("/./a"));
    assert_false(valid("/../a"));
    assert_false(valid("/a/."));
    assert_false(valid("/a/.."));
    assert_false(valid("/a/./b"));
    assert_false(valid("a"));
    assert_false(valid(" /a"));
    assert_false(valid("/a/"));
    assert_false(valid("\\a"));
    /* len bounds the bytes looked at */
    assert_true(valid_n("/a/b", 2));
    assert_false(valid_n("/a/b", 3));
    assert_false(valid_n("/a", 0));
}

static void test_nul_bytes(void **state)
{
    (void)state;
    assert_false(valid_n("/a\0b", 4));
    assert_false(valid_n("/\0", 2));
    assert_false(valid_n("\0/a", 3));
    assert_false(valid_n("/a/b\0", 5));
    assert_string_equal(why_of("/a\0b", 4, 0), "null character not allowed");
    assert_string_equal(why_of("/a\0b", 4, 1), "null character not allowed");
}

static void test_control_ranges(void **state)
{
    (void)state;
    char p[8];
    for (int c = 1; c <= 0x7f; c++) {
        snprintf(p, sizeof(p), "/a%cb", c);
        int expect = !(c <= 0x1f || c == 0x7f);
        assert_int_equal(valid(p), expect);
    }
    /* U+0080..U+009F (C1 controls) are out, U+00A0 onwards in */
    for (unsigned cp = 0x80; cp <= 0x7ff; cp++) {
        char q[8] = {'/', (char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F)), 0};
        assert_int_equal(valid(q), cp > 0x9f);
    }
    assert_string_equal(why_of("/a\x05", 3, 0), "invalid character");
}

/* Every BMP character, encoded in UTF-8, against the ranges PathUtils lists. */
static void test_every_bmp_character(void **state)
{
    (void)state;
    for (unsigned cp = 0x800; cp <= 0xFFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue; /* not encodable; see test_invalid_utf8 */
        char q[8] = {'/', 'x', (char)(0xE0 | cp >> 12), (char)(0x80 | ((cp >> 6) & 0x3F)), (char)(0x80 | (cp & 0x3F)),
                     'y', 0};
        int forbidden = (cp >= 0xD800 && cp <= 0xF8FF) || cp >= 0xFFF0;
        if (valid(q) != !forbidden)
            fail_msg("U+%04X: expected %s", cp, forbidden ? "invalid" : "valid");
    }
    assert_true(valid("/caf\xc3\xa9"));              /* é */
    assert_true(valid("/\xe4\xb8\xad\xe6\x96\x87")); /* 中文 */
    assert_true(valid("/\xef\xa4\x80"));             /* U+F900, just above the private use area */
    assert_false(valid("/\xee\x80\x80"));            /* U+E000, private use */
    assert_false(valid("/\xef\xbf\xbd"));            /* U+FFFD itself */
    assert_false(valid("/\xef\xbf\xbf"));            /* U+FFFF */
}

/* Characters beyond the BMP become UTF-16 surrogates in Java, all forbidden. */
static void test_four_byte_utf8(void **state)
{
    (void)state;
    assert_false(valid("/\xf0\x9f\x98\x80"));     /* U+1F600 */
    assert_false(valid("/a/\xf0\x90\x80\x80/b")); /* U+10000 */
    assert_false(valid("/\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
    assert_false(valid_seq("/\xf0\x9f\x98\x80"));
    assert_string_equal(why_of("/\xf0\x9f\x98\x80", 5, 0), "invalid character");
}

/* Malformed UTF-8 decodes to U+FFFD, which is forbidden. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    assert_false(valid("/\xff"));
    assert_false(valid("/\xfe"));
    assert_false(valid("/a\x80")); /* stray continuation */
    assert_false(valid("/a\xbf"));
    assert_false(valid("/\xc3"));     /* truncated at the end */
    assert_false(valid("/\xc3(b"));   /* lead byte then ASCII */
    assert_false(valid("/\xe4\xb8")); /* truncated 3-byte */
    assert_false(valid("/\xe4\xb8x"));
    assert_false(valid("/\xf0\x9f\x98"));     /* truncated 4-byte */
    assert_false(valid("/\xc0\xaf"));         /* overlong '/' */
    assert_false(valid("/\xc1\xbf"));         /* overlong */
    assert_false(valid("/\xe0\x80\xaf"));     /* overlong */
    assert_false(valid("/\xe0\x9f\xbf"));     /* overlong */
    assert_false(valid("/\xf0\x8f\xbf\xbf")); /* overlong */
    assert_false(valid("/\xed\xa0\x80"));     /* encoded surrogate U+D800 */
    assert_false(valid("/\xed\xbf\xbf"));     /* encoded surrogate U+DFFF */
    assert_false(valid("/\xf4\x90\x80\x80")); /* above U+10FFFF */
    assert_false(valid("/\xf5\x80\x80\x80"));
    assert_false(valid_seq("/a\xc3")); /* the "1" is not a continuation */
    assert_string_equal(why_of("/\xff", 2, 0), "invalid character");
    /* the first character is judged as a whole: "must start with /" */
    assert_string_equal(why_of("\xc3\xa9/a", 4, 0), "Path must start with / character");
    /* a malformed byte does not swallow the '/' after it */
    assert_string_equal(why_of("/\xc3/", 3, 0), "Path must not end with / character");
}

static void test_sequential(void **state)
{
    (void)state;
    assert_true(valid_seq("/a/"));
    assert_false(valid("/a/"));
    assert_true(valid_seq("/"));    /* "/1" */
    assert_true(valid_seq("/a"));   /* "/a1" */
    assert_true(valid_seq("/a/.")); /* "/a/.1" */
    assert_false(valid("/a/."));
    assert_true(valid_seq("/a/..")); /* "/a/..1" */
    assert_false(valid_seq("/a//")); /* "/a//1" */
    assert_false(valid_seq("/./"));  /* "/./1" */
    assert_false(valid_seq(""));     /* "1" */
    assert_false(valid_seq("a/"));
    assert_true(valid_seq("/a/lock-"));
    assert_false(valid_seq("/a\x01-"));
    assert_int_equal(path_validate(NULL, 0, 1, NULL), ZBADARGUMENTS);
    assert_true(path_validate("/x/", 3, 1, NULL) == ZOK);
}

static void test_reasons(void **state)
{
    (void)state;
    const char *why = "unset";
    assert_int_equal(path_validate(NULL, 0, 0, &why), ZBADARGUMENTS);
    assert_string_equal(why, "Path cannot be null");
    assert_string_equal(why_of("", 0, 0), "Path length must be > 0");
    assert_string_equal(why_of("a", 1, 0), "Path must start with / character");
    assert_string_equal(why_of("/a/", 3, 0), "Path must not end with / character");
    assert_string_equal(why_of("/a//b", 5, 0), "empty node name specified");
    assert_string_equal(why_of("/a/./b", 6, 0), "relative paths not allowed");
    assert_string_equal(why_of("/a/..", 5, 0), "relative paths not allowed");
    assert_null(why_of("/a", 2, 0));
    /* the first problem from the left is the one reported, as in Java */
    assert_string_equal(why_of("/a//\x01", 5, 0), "empty node name specified");
    assert_string_equal(why_of("/\x01//", 4, 0), "Path must not end with / character");
}

static void test_parent(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(path_parent_len("/a/b", 4), 2);
    assert_int_equal(path_parent_len("/a", 2), 1);
    assert_int_equal(path_parent_len("/", 1), 0);
    assert_int_equal(path_parent_len("", 0), 0);
    assert_int_equal(path_parent_len("ab", 2), 0);
    assert_int_equal(path_parent_len(NULL, 3), 0);
    assert_int_equal(path_parent_len("/a/bc/d", 5), 2); /* of "/a/bc" */

    assert_int_equal(path_parent("/a/b/c", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/a/b");
    assert_int_equal(path_parent("/a", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/");
    assert_int_equal(path_parent("/", out, sizeof(out)), ZBADARGUMENTS);
    assert_string_equal(out, "");
    assert_int_equal(path_parent("a/b", out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(path_parent(NULL, out, sizeof(out)), ZBADARGUMENTS);
    /* strlen(path) + 1 always suffices; less may not */
    assert_int_equal(path_parent("/ab/c", out, 6), ZOK);
    assert_string_equal(out, "/ab");
    assert_int_equal(path_parent("/ab/c", out, 4), ZOK);
    assert_int_equal(path_parent("/ab/c", out, 3), ZBADARGUMENTS);
    assert_string_equal(out, "");
    assert_int_equal(path_parent("/a", out, 0), ZBADARGUMENTS);
}

static void test_basename(void **state)
{
    (void)state;
    const char *p = "/a/bc";
    assert_ptr_equal(path_basename(p), p + 3);
    assert_string_equal(path_basename("/a"), "a");
    assert_string_equal(path_basename("/"), "");
    assert_string_equal(path_basename("/a/b/"), "");
    assert_string_equal(path_basename("name"), "name");
    assert_string_equal(path_basename("/lock-0000000001"), "lock-0000000001");
}

static void test_ancestor(void **state)
{
    (void)state;
    assert_true(path_is_ancestor_or_self("/", "/"));
    assert_true(path_is_ancestor_or_self("/", "/a/b"));
    assert_true(path_is_ancestor_or_self("/a", "/a"));
    assert_true(path_is_ancestor_or_self("/a", "/a/b"));
    assert_true(path_is_ancestor_or_self("/a/b", "/a/b/c/d"));
    assert_false(path_is_ancestor_or_self("/a", "/ab"));
    assert_false(path_is_ancestor_or_self("/a/b", "/a"));
    assert_false(path_is_ancestor_or_self("/a/", "/a/b"));
    assert_false(path_is_ancestor_or_self("/b", "/a/b"));
    assert_false(path_is_ancestor_or_self("", "/a"));
    assert_false(path_is_ancestor_or_self("/", "a"));
    assert_false(path_is_ancestor_or_self(NULL, "/a"));
    assert_false(path_is_ancestor_or_self("/a", NULL));
}

static void test_join(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(path_join("/", "a", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/a");
    assert_int_equal(path_join("/a", "b", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/a/b");
    assert_int_equal(path_join("/a", "b/c", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/a/b/c");
    assert_int_equal(path_join("/a", "", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/a");
    assert_int_equal(path_join("/", "", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/");
    assert_int_equal(path_join("/a", "/b", out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(path_join("a", "b", out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(path_join(NULL, "b", out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(path_join("/a", NULL, out, sizeof(out)), ZBADARGUMENTS);
    /* exact fit, and one byte short */
    assert_int_equal(path_join("/abc", "def", out, 9), ZOK);
    assert_string_equal(out, "/abc/def");
    assert_int_equal(path_join("/abc", "def", out, 8), ZBADARGUMENTS);
    assert_string_equal(out, "");
}

static void test_chroot(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(path_prepend_chroot("/app", "/", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/app");
    assert_int_equal(path_prepend_chroot("/app", "/x/y", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/app/x/y");
    assert_int_equal(path_prepend_chroot(NULL, "/x", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/x");
    assert_int_equal(path_prepend_chroot("", "/x", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/x");
    assert_int_equal(path_prepend_chroot("/", "/x", out, sizeof(out)), ZOK);
    assert_string_equal(out, "/x");
    assert_int_equal(path_prepend_chroot("/app", NULL, out, sizeof(out)), ZBADARGUMENTS);
    assert_int_equal(path_prepend_chroot("/app", "/xy", out, 8), ZOK);
    assert_string_equal(out, "/app/xy");
    assert_int_equal(path_prepend_chroot("/app", "/xyz", out, 8), ZBADARGUMENTS);

    assert_string_equal(path_strip_chroot("/app", "/app"), "/");
    assert_string_equal(path_strip_chroot("/app", "/app/x/y"), "/x/y");
    assert_string_equal(path_strip_chroot("/app", "/app/lock-0000000003"), "/lock-0000000003");
    const char *other = "/apple";
    assert_ptr_equal(path_strip_chroot("/app", other), other);
    assert_string_equal(path_strip_chroot("/app", "/ap"), "/ap");
    assert_string_equal(path_strip_chroot("/app", "/other/x"), "/other/x");
    assert_string_equal(path_strip_chroot(NULL, "/x"), "/x");
    assert_string_equal(path_strip_chroot("/", "/x"), "/x");
    assert_null(path_strip_chroot("/app", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_cases),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_control_ranges),
        cmocka_unit_test(test_every_bmp_character),
        cmocka_unit_test(test_four_byte_utf8),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_parent),
        cmocka_unit_test(test_basename),
        cmocka_unit_test(test_ancestor),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_chroot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
