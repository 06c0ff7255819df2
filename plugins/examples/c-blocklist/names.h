/* c-blocklist: a set of domain names with parent-domain lookup, and a small strict
 * JSON reader for the plugin's config. Plain C, no bindings: testable natively. */
#ifndef C_BLOCKLIST_NAMES_H
#define C_BLOCKLIST_NAMES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char **slots; /* open addressing; NULL = empty */
    size_t cap;   /* power of two, 0 when empty */
    size_t len;
} name_set;

/* Adds a copy of name[0..len); false only when out of memory. */
bool name_set_add(name_set *set, const char *name, size_t len);
/* True when name[0..len) or one of its parent domains is in the set. */
bool name_set_covers(const name_set *set, const char *name, size_t len);
void name_set_clear(name_set *set);

/* Lower-cases name[0..len) into out (cap >= len + 1) and drops one trailing dot;
 * returns the new length, or 0 when it is not a valid host name. */
size_t normalize_name(const char *name, size_t len, char *out);

typedef enum { VERDICT_NXDOMAIN, VERDICT_REFUSED, VERDICT_NULL_IP } verdict_kind;

typedef struct {
    name_set blocked;
    name_set allowed;
    verdict_kind verdict;
} blocklist;

/* Parses the config JSON into bl; on error returns false with a message in err. */
bool blocklist_configure(blocklist *bl, const char *json, size_t len, char *err, size_t errcap);
/* Frees both sets. */
void blocklist_clear(blocklist *bl);
/* True when the name must be blocked. */
bool blocklist_blocks(const blocklist *bl, const char *name, size_t len);

#endif
