/* c-blocklist: name set and config reader (see names.h). */
#include "names.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 253
#define MAX_LABEL 63

static uint64_t fnv1a(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool slot_matches(const char *slot, const char *name, size_t len) {
    return strlen(slot) == len && memcmp(slot, name, len) == 0;
}

static bool contains(const name_set *set, const char *name, size_t len) {
    if (set->cap == 0) return false;
    size_t mask = set->cap - 1;
    for (size_t i = fnv1a(name, len) & mask;; i = (i + 1) & mask) {
        if (set->slots[i] == NULL) return false;
        if (slot_matches(set->slots[i], name, len)) return true;
    }
}

static bool grow(name_set *set) {
    size_t cap = set->cap ? set->cap * 2 : 64;
    char **slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return false;
    for (size_t j = 0; j < set->cap; j++) {
        char *s = set->slots[j];
        if (s == NULL) continue;
        size_t i = fnv1a(s, strlen(s)) & (cap - 1);
        while (slots[i] != NULL) i = (i + 1) & (cap - 1);
        slots[i] = s;
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return true;
}

bool name_set_add(name_set *set, const char *name, size_t len) {
    if (contains(set, name, len)) return true;
    /* Keep the load factor under 1/2 so probes stay short. */
    if ((set->len + 1) * 2 > set->cap && !grow(set)) return false;
    char *copy = malloc(len + 1);
    if (copy == NULL) return false;
    memcpy(copy, name, len);
    copy[len] = '\0';
    size_t i = fnv1a(name, len) & (set->cap - 1);
    while (set->slots[i] != NULL) i = (i + 1) & (set->cap - 1);
    set->slots[i] = copy;
    set->len++;
    return true;
}

bool name_set_covers(const name_set *set, const char *name, size_t len) {
    if (set->len == 0) return false;
    if (contains(set, name, len)) return true;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '.' && contains(set, name + i + 1, len - i - 1)) return true;
    }
    return false;
}

void name_set_clear(name_set *set) {
    for (size_t i = 0; i < set->cap; i++) free(set->slots[i]);
    free(set->slots);
    *set = (name_set){0};
}

size_t normalize_name(const char *name, size_t len, char *out) {
    if (len > 0 && name[len - 1] == '.') len--;
    if (len == 0 || len > MAX_NAME) return 0;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        bool last = i + 1 == len || name[i + 1] == '.';
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                   (c == '-' && label != 0 && !last)) {
            if (++label > MAX_LABEL) return 0;
        } else {
            return 0;
        }
        out[i] = c;
    }
    out[len] = '\0';
    return len;
}

/* --- config: {"domains": [names], "allow": [names], "block": "nxdomain"} ---- */

typedef struct {
    const char *p, *end;
    char *err;
    size_t errcap;
} reader;

static bool fail(reader *r, const char *msg) {
    snprintf(r->err, r->errcap, "%s", msg);
    return false;
}

static void skip_space(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static bool eat(reader *r, char c) {
    skip_space(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

/* Reads a JSON string into out (NUL-terminated); ASCII only, which names need. */
static bool read_string(reader *r, char *out, size_t cap, size_t *len) {
    if (!eat(r, '"')) return fail(r, "expected a string");
    size_t n = 0;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20) return fail(r, "control character in string");
        if (c == '\\') {
            if (r->p >= r->end) break;
            char e = *r->p++;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = strchr(from, e);
            if (e == '\0' || hit == NULL) return fail(r, "unsupported escape in string");
            c = to[hit - from];
        }
        if (n + 1 >= cap) return fail(r, "string too long");
        out[n++] = c;
    }
    if (!eat(r, '"')) return fail(r, "unterminated string");
    out[n] = '\0';
    *len = n;
    return true;
}

static bool read_names(reader *r, name_set *set, const char *key) {
    char raw[MAX_NAME + 3], name[MAX_NAME + 2];
    if (!eat(r, '[')) return fail(r, key);
    if (eat(r, ']')) return true;
    do {
        size_t len;
        if (!read_string(r, raw, sizeof raw, &len)) return false;
        size_t n = normalize_name(raw, len, name);
        if (n == 0) {
            snprintf(r->err, r->errcap, "%s: \"%s\" is not a domain name", key, raw);
            return false;
        }
        if (!name_set_add(set, name, n)) return fail(r, "out of memory");
    } while (eat(r, ','));
    return eat(r, ']') || fail(r, "expected , or ] in a list");
}

static bool read_verdict(reader *r, verdict_kind *v) {
    char word[16];
    size_t len;
    if (!read_string(r, word, sizeof word, &len)) return fail(r, "block must be a string");
    if (strcmp(word, "nxdomain") == 0) *v = VERDICT_NXDOMAIN;
    else if (strcmp(word, "refused") == 0) *v = VERDICT_REFUSED;
    else if (strcmp(word, "null-ip") == 0) *v = VERDICT_NULL_IP;
    else return fail(r, "block must be nxdomain, refused or null-ip");
    return true;
}

static bool read_member(reader *r, blocklist *bl) {
    char key[16];
    size_t len;
    if (!read_string(r, key, sizeof key, &len)) return fail(r, "expected a key");
    if (!eat(r, ':')) return fail(r, "expected :");
    if (strcmp(key, "domains") == 0) return read_names(r, &bl->blocked, "domains must be a list of names");
    if (strcmp(key, "allow") == 0) return read_names(r, &bl->allowed, "allow must be a list of names");
    if (strcmp(key, "block") == 0) return read_verdict(r, &bl->verdict);
    snprintf(r->err, r->errcap, "unknown key %s", key);
    return false;
}

static bool parse(blocklist *bl, const char *json, size_t len, char *err, size_t errcap) {
    reader r = {json, json + len, err, errcap};
    bl->verdict = VERDICT_NXDOMAIN;
    skip_space(&r);
    if (r.p == r.end) return true; /* no config */
    if (r.end - r.p == 4 && memcmp(r.p, "null", 4) == 0) return true;
    if (!eat(&r, '{')) return fail(&r, "config is not a table");
    if (!eat(&r, '}')) {
        do {
            if (!read_member(&r, bl)) return false;
        } while (eat(&r, ','));
        if (!eat(&r, '}')) return fail(&r, "expected , or } in the table");
    }
    skip_space(&r);
    return r.p == r.end || fail(&r, "trailing characters");
}

bool blocklist_configure(blocklist *bl, const char *json, size_t len, char *err, size_t errcap) {
    if (parse(bl, json, len, err, errcap)) return true;
    blocklist_clear(bl);
    return false;
}

void blocklist_clear(blocklist *bl) {
    name_set_clear(&bl->blocked);
    name_set_clear(&bl->allowed);
}

bool blocklist_blocks(const blocklist *bl, const char *name, size_t len) {
    return name_set_covers(&bl->blocked, name, len) && !name_set_covers(&bl->allowed, name, len);
}
