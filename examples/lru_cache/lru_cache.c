/*
 * examples/lru_cache: wasmcache:cache/cache@0.1.0 served from inside WebAssembly, a bounded
 * least-recently-used cache with TTLs in this instance's own memory. No host storage at all:
 * the entries live as long as the instance, i.e. one run. See README.md.
 *
 * The contract (wit/cache.wit, the same as the host's checks in wasmcache.host):
 * - a key is 1..250 bytes of UTF-8, else `invalid-key` (set, get and delete alike);
 * - a value is 0..1 MiB, else `value-too-large`, and nothing changes;
 * - ttl none never expires, ttl 0 is expired at once (an older value goes too), ttl N expires
 *   N seconds later (monotonic clock); a set without ttl clears an older one;
 * - get of a missing or expired key is `not-found`; delete of a missing key is ok.
 * Bounds: at most LRU_MAX_ENTRIES entries and LRU_MAX_BYTES of keys plus values. A set that
 * needs room drops expired entries first, then the least recently used (a get or a set is a
 * use). A 1 MiB value always fits.
 */

#include <string.h>

#include "wasmcache_cache_export.h"

#define MAX_KEY_BYTES 250
#define MAX_VALUE_BYTES (1024 * 1024)
#define LRU_MAX_ENTRIES 1024
#define LRU_MAX_BYTES (4 * 1024 * 1024)
#define BUCKETS 2048 /* a power of two, twice the most entries: short chains */
#define NS_PER_SECOND UINT64_C(1000000000)

_Static_assert(LRU_MAX_BYTES >= MAX_KEY_BYTES + MAX_VALUE_BYTES, "the largest entry fits");

/* wasi:clocks/monotonic-clock@0.2.0 `now: func() -> instant` (u64 nanoseconds), by hand. */
__attribute__((__import_module__("wasi:clocks/monotonic-clock@0.2.0"), __import_name__("now")))
extern uint64_t wasi_monotonic_clock_now(void);

typedef struct entry {
  struct entry *newer, *older; /* the recency list: `recent.older` is the most recent */
  struct entry *next_in_bucket;
  uint32_t hash;
  uint8_t *key, *value; /* the buffers the caller handed over, kept as they are */
  size_t key_len, value_len;
  uint64_t expires_at; /* monotonic ns; 0 = never */
} entry_t;

static entry_t *buckets[BUCKETS];
static entry_t recent = {.newer = &recent, .older = &recent}; /* the list's head */
static size_t entry_count, stored_bytes;

static uint32_t hash_key(const uint8_t *key, size_t len) { /* FNV-1a */
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    hash = (hash ^ key[i]) * 16777619u;
  }
  return hash;
}

static entry_t **slot_of(const uint8_t *key, size_t len, uint32_t hash) {
  entry_t **slot = &buckets[hash & (BUCKETS - 1)];
  while (*slot != NULL && !((*slot)->hash == hash && (*slot)->key_len == len &&
                            memcmp((*slot)->key, key, len) == 0)) {
    slot = &(*slot)->next_in_bucket;
  }
  return slot;
}

static void unlink_recency(entry_t *e) {
  e->newer->older = e->older;
  e->older->newer = e->newer;
}

static void make_most_recent(entry_t *e) {
  e->older = recent.older;
  e->newer = &recent;
  recent.older->newer = e;
  recent.older = e;
}

/* Unlink the entry in *slot from both structures and free it. */
static void remove_at(entry_t **slot) {
  entry_t *e = *slot;
  *slot = e->next_in_bucket;
  unlink_recency(e);
  entry_count--;
  stored_bytes -= e->key_len + e->value_len;
  cache_buffer_free(e->key, e->key_len);
  cache_buffer_free(e->value, e->value_len);
  free(e);
}

static void remove_entry(entry_t *e) {
  remove_at(slot_of(e->key, e->key_len, e->hash));
}

static int expired(const entry_t *e, uint64_t now) {
  return e->expires_at != 0 && now >= e->expires_at;
}

static int fits(size_t bytes) {
  return entry_count < LRU_MAX_ENTRIES && stored_bytes + bytes <= LRU_MAX_BYTES;
}

/* Make room for one more entry of `bytes`: expired entries first, then the least recent. */
static void make_room(size_t bytes) {
  if (fits(bytes)) {
    return;
  }
  uint64_t now = wasi_monotonic_clock_now();
  for (entry_t *e = recent.newer, *newer; e != &recent; e = newer) {
    newer = e->newer;
    if (expired(e, now)) {
      remove_entry(e);
    }
  }
  while (!fits(bytes)) {
    remove_entry(recent.newer); /* the oldest: the list is never empty while it overflows */
  }
}

static int valid_key(size_t key_len) {
  return key_len >= 1 && key_len <= MAX_KEY_BYTES;
}

cache_status_t cache_impl_set(uint8_t *key, size_t key_len, uint8_t *value, size_t value_len,
                              bool has_ttl, uint32_t ttl) {
  bool keep = !(has_ttl && ttl == 0); /* ttl 0: expired at once, so only the removal is left */
  entry_t *e = NULL;
  cache_status_t refused = !valid_key(key_len) ? CACHE_INVALID_KEY
                           : value_len > MAX_VALUE_BYTES ? CACHE_VALUE_TOO_LARGE
                           : keep && (e = malloc(sizeof *e)) == NULL ? CACHE_INTERNAL
                                                                     : CACHE_OK;
  if (refused != CACHE_OK) { /* nothing changes */
    cache_buffer_free(key, key_len);
    cache_buffer_free(value, value_len);
    return refused;
  }
  uint32_t hash = hash_key(key, key_len);
  entry_t **slot = slot_of(key, key_len, hash);
  if (*slot != NULL) {
    remove_at(slot); /* the older value and its ttl go, whatever replaces them */
  }
  if (!keep) {
    cache_buffer_free(key, key_len);
    cache_buffer_free(value, value_len);
    return CACHE_OK;
  }
  make_room(key_len + value_len);
  *e = (entry_t){.hash = hash, .key = key, .key_len = key_len, .value = value,
                 .value_len = value_len,
                 .expires_at = has_ttl ? wasi_monotonic_clock_now() + ttl * NS_PER_SECOND : 0};
  slot = slot_of(key, key_len, hash); /* make_room may have changed the chain: its end */
  *slot = e;
  make_most_recent(e);
  entry_count++;
  stored_bytes += key_len + value_len;
  return CACHE_OK;
}

cache_status_t cache_impl_get(const uint8_t *key, size_t key_len, const uint8_t **value,
                              size_t *value_len) {
  if (!valid_key(key_len)) {
    return CACHE_INVALID_KEY;
  }
  entry_t **slot = slot_of(key, key_len, hash_key(key, key_len));
  entry_t *e = *slot;
  if (e == NULL) {
    return CACHE_NOT_FOUND;
  }
  if (e->expires_at != 0 && expired(e, wasi_monotonic_clock_now())) {
    remove_at(slot);
    return CACHE_NOT_FOUND;
  }
  unlink_recency(e);
  make_most_recent(e);
  *value = e->value;
  *value_len = e->value_len;
  return CACHE_OK;
}

cache_status_t cache_impl_delete(const uint8_t *key, size_t key_len) {
  if (!valid_key(key_len)) {
    return CACHE_INVALID_KEY;
  }
  entry_t **slot = slot_of(key, key_len, hash_key(key, key_len));
  if (*slot != NULL) {
    remove_at(slot);
  }
  return CACHE_OK;
}
