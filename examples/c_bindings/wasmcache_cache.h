/*
 * wasmcache:cache/cache@0.1.0 for C guests: bindings WRITTEN BY HAND against the component
 * model's canonical ABI, because no C binding generator (wit-bindgen) can be installed here
 * (not on PyPI, npm or Debian bookworm; crates.io is out of reach). The interface is
 * wit/cache.wit; if it changes, this file must change with it.
 *
 * What the canonical ABI makes of it (wasm32, string-encoding=utf8, memory and realloc given):
 *
 *   set(key: string, value: list<u8>, ttl: option<u32>) -> result<_, error>
 *     core: (key_ptr, key_len, value_ptr, value_len, ttl_is_some, ttl, ret) -> ()
 *   get(key: string) -> result<list<u8>, error>
 *     core: (key_ptr, key_len, ret) -> ()
 *   delete(key: string) -> result<_, error>
 *     core: (key_ptr, key_len, ret) -> ()
 *
 * Each result has two flat values, more than the one a core result may hold, so the caller
 * passes `ret`, a return area the callee writes: result<_, error> is {u8 tag; u8 error} (size
 * 2, align 1); result<list<u8>, error> is {u8 tag; pad; union {ptr, len} or u8 error at 4}
 * (size 12, align 4). The tag is 0 for ok, 1 for err; `error` is the enum's case index.
 *
 * A get's bytes are allocated in this module's memory by the host through the exported
 * `cabi_realloc` below (malloc underneath), so the caller owns them and frees them.
 *
 * The world's other half, the `wasi:cli/run` export, is not here: `jco new --wasi-command`
 * adapts wasi-libc's `_start` (which calls main) into it with the WASI preview1 command adapter.
 *
 * Include this file in exactly one translation unit of a program: it defines `cabi_realloc`.
 */
#ifndef WASMCACHE_CACHE_H
#define WASMCACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* CACHE_OK, or the interface's `error` case + 1 (the enum's cases in their WIT order). */
typedef enum {
  CACHE_OK,
  CACHE_NOT_FOUND,
  CACHE_INVALID_KEY,
  CACHE_VALUE_TOO_LARGE,
  CACHE_ACCESS_DENIED,
  CACHE_UNAVAILABLE,
  CACHE_INTERNAL,
} cache_status_t;

#define CACHE_ERROR_CASES 6

/* The WIT name of a status ("ok", "not-found", ...), as the other guests print it. */
static inline const char *cache_status_name(cache_status_t status) {
  static const char *const names[] = {"ok", "not-found", "invalid-key", "value-too-large",
                                      "access-denied", "unavailable", "internal"};
  return (unsigned)status <= CACHE_ERROR_CASES ? names[status] : "unknown-error";
}

/*
 * The allocator the canonical ABI calls to place strings and lists in this module's memory
 * (realloc(NULL or old, new) with malloc's 16-byte alignment, which covers every align here).
 * A zero-byte request gets `align` itself, a non-null address nothing owns: callers never free
 * a zero-length buffer. Running out of memory traps (abort), as a failed lowering must.
 */
__attribute__((__export_name__("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
  if (new_size == 0) {
    if (old_size != 0) {
      free(ptr);
    }
    return (void *)align;
  }
  void *grown = realloc(old_size != 0 ? ptr : NULL, new_size);
  if (grown == NULL) {
    abort();
  }
  return grown;
}

/* The return areas, laid out as the canonical ABI lays out the two result types. */
typedef struct {
  uint8_t is_err;
  uint8_t error;
} cache_result_unit_t;

typedef struct {
  uint8_t is_err;
  union {
    struct {
      uint8_t *ptr;
      size_t len;
    } ok;
    uint8_t error;
  } val;
} cache_result_bytes_t;

_Static_assert(sizeof(cache_result_unit_t) == 2, "result<_, error> is 2 bytes");
_Static_assert(sizeof(cache_result_bytes_t) == 12 && offsetof(cache_result_bytes_t, val) == 4,
               "result<list<u8>, error> is 12 bytes, its payload at 4");

__attribute__((__import_module__("wasmcache:cache/cache@0.1.0"), __import_name__("set")))
extern void wasmcache_cache_import_set(const uint8_t *key, size_t key_len, const uint8_t *value,
                                       size_t value_len, int32_t ttl_is_some, int32_t ttl,
                                       cache_result_unit_t *ret);

__attribute__((__import_module__("wasmcache:cache/cache@0.1.0"), __import_name__("get")))
extern void wasmcache_cache_import_get(const uint8_t *key, size_t key_len,
                                       cache_result_bytes_t *ret);

__attribute__((__import_module__("wasmcache:cache/cache@0.1.0"), __import_name__("delete")))
extern void wasmcache_cache_import_delete(const uint8_t *key, size_t key_len,
                                          cache_result_unit_t *ret);

static inline cache_status_t cache_status_of(uint8_t is_err, uint8_t error) {
  return is_err ? (cache_status_t)(error + 1) : CACHE_OK;
}

/* Store `value` under `key` (UTF-8); `has_ttl` false never expires, a ttl of 0 at once. */
static inline cache_status_t cache_set(const char *key, size_t key_len, const uint8_t *value,
                                       size_t value_len, bool has_ttl, uint32_t ttl) {
  cache_result_unit_t ret;
  wasmcache_cache_import_set((const uint8_t *)key, key_len, value, value_len, has_ttl,
                             (int32_t)(has_ttl ? ttl : 0), &ret);
  return cache_status_of(ret.is_err, ret.error);
}

/* Read `key`: on CACHE_OK, *value (NULL when empty) is the caller's to free(). */
static inline cache_status_t cache_get(const char *key, size_t key_len, uint8_t **value,
                                       size_t *value_len) {
  cache_result_bytes_t ret;
  wasmcache_cache_import_get((const uint8_t *)key, key_len, &ret);
  if (ret.is_err) {
    *value = NULL;
    *value_len = 0;
    return cache_status_of(1, ret.val.error);
  }
  *value_len = ret.val.ok.len;
  *value = ret.val.ok.len != 0 ? ret.val.ok.ptr : NULL;
  return CACHE_OK;
}

/* Remove `key`; removing a missing key is ok. */
static inline cache_status_t cache_delete(const char *key, size_t key_len) {
  cache_result_unit_t ret;
  wasmcache_cache_import_delete((const uint8_t *)key, key_len, &ret);
  return cache_status_of(ret.is_err, ret.error);
}

#endif /* WASMCACHE_CACHE_H */
