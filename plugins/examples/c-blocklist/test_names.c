/* Native unit tests of names.c, run by build.sh before the Wasm build. */
#include "names.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static bool blocks(const blocklist *bl, const char *name) {
    return blocklist_blocks(bl, name, strlen(name));
}

static bool configure(blocklist *bl, const char *json, char *err) {
    blocklist_clear(bl);
    return blocklist_configure(bl, json, strlen(json), err, 200);
}

int main(void) {
    char err[200], out[300];
    blocklist bl = {0};

    CHECK(configure(&bl, "{\"domains\":[\"Ads.Example.\",\"t.test\"],\"allow\":[\"ok.ads.example\"],\"block\":\"refused\"}", err));
    CHECK(bl.verdict == VERDICT_REFUSED);
    CHECK(blocks(&bl, "ads.example"));
    CHECK(blocks(&bl, "x.y.ads.example"));
    CHECK(!blocks(&bl, "ok.ads.example"));
    CHECK(!blocks(&bl, "a.ok.ads.example"));
    CHECK(!blocks(&bl, "bads.example"));
    CHECK(!blocks(&bl, "example"));
    CHECK(!blocks(&bl, ""));
    CHECK(blocks(&bl, "t.test"));
    blocklist_clear(&bl);

    /* Many names: the set grows and still finds every one. */
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(out, sizeof out, "n%d.test", i);
        CHECK(name_set_add(&bl.blocked, out, (size_t)n));
    }
    CHECK(bl.blocked.len == 5000);
    CHECK(blocks(&bl, "www.n4999.test"));
    CHECK(!blocks(&bl, "n5000.test"));
    blocklist_clear(&bl);

    CHECK(configure(&bl, "", err));
    CHECK(configure(&bl, "null", err));
    CHECK(configure(&bl, " {} ", err));
    CHECK(!configure(&bl, "[]", err) && strstr(err, "not a table"));
    CHECK(!configure(&bl, "{\"domain\":[]}", err) && strstr(err, "unknown key"));
    CHECK(!configure(&bl, "{\"domains\":[\"a..b\"]}", err) && strstr(err, "not a domain name"));
    CHECK(!configure(&bl, "{\"domains\":[\"-a.b\"]}", err));
    CHECK(!configure(&bl, "{\"domains\":\"a.b\"}", err));
    CHECK(!configure(&bl, "{\"domains\":[\"a.b\"]", err));
    CHECK(!configure(&bl, "{\"block\":\"drop\"}", err) && strstr(err, "block must be"));
    CHECK(!configure(&bl, "{\"domains\":[\"a\\u0062\"]}", err));
    CHECK(!configure(&bl, "{} x", err) && strstr(err, "trailing"));

    blocklist_clear(&bl);
    CHECK(normalize_name("A.B.", 4, out) == 3 && strcmp(out, "a.b") == 0);
    CHECK(normalize_name(".", 1, out) == 0);
    CHECK(normalize_name("a-.b", 4, out) == 0);
    memset(out, 'a', 64);
    CHECK(normalize_name(out, 63, out) == 63);
    memset(out, 'a', 64);
    CHECK(normalize_name(out, 64, out) == 0);

    if (failures) {
        fprintf(stderr, "names: %d check(s) failed\n", failures);
        return 1;
    }
    printf("names: all checks passed\n");
    return 0;
}
