/*
 * wasmcache:cache/cache@0.1.0 EXPORTED from C (an implementation such as examples/lru_cache):
 * glue WRITTEN BY HAND against the canonical ABI, like wasmcache_cache.h (whose status codes
 * and `cabi_realloc` it shares). The implementation defines the three `cache_impl_*`
 * functions below; this file exports them under the names and flat signatures the canonical
 * ABI lifts (wasm32, string-encoding=utf8):
 *
 *   "wasmcache:cache/cache@0.1.0#set":    (key_ptr, key_len, value_ptr, value_len,
 *                                           ttl_is_some, ttl) -> ret
 *   "wasmcache:cache/cache@0.1.0#get":    (key_ptr, key_len) -> ret
 *   "wasmcache:cache/cache@0.1.0#delete": (key_ptr, key_len) -> ret
 *
 * Each returns a pointer to its return area (the result has two flat values, more than a core
 * result holds), laid out as in wasmcache_cache.h. The caller has already placed the key and
 * value in this module's memory through `cabi_realloc`: those buffers belong to the callee.
 * A get's value is copied out by the caller right after the call returns, before anything else
 * runs in this instance, so it may point into the implementation's own storage; no
 * post-return function is needed.
 *
 * Include this file in exactly one translation unit.
 */
#ifndef WASMCACHE_CACHE_EXPORT_H
#define WASMCACHE_CACHE_EXPORT_H

#include "wasmcache_cache.h"

/*
 * set: `key` (valid UTF-8: the canonical ABI checked it) and `value` are the implementation's
 * to keep or to release with cache_buffer_free(). get: *value must stay valid until the next
 * call into this instance. The key of get and delete is released by the glue after the call.
 */
cache_status_t cache_impl_set(uint8_t *key, size_t key_len, uint8_t *value, size_t value_len,
                              bool has_ttl, uint32_t ttl);
cache_status_t cache_impl_get(const uint8_t *key, size_t key_len, const uint8_t **value,
                              size_t *value_len);
cache_status_t cache_impl_delete(const uint8_t *key, size_t key_len);

/* Release a buffer the caller handed over; a zero-length one was never allocated. */
static inline void cache_buffer_free(void *buffer, size_t len) {
  if (len != 0) {
    free(buffer);
  }
}

static inline void cache_result_unit_set(cache_result_unit_t *ret, cache_status_t status) {
  ret->is_err = status != CACHE_OK;
  ret->error = status != CACHE_OK ? (uint8_t)(status - 1) : 0;
}

__attribute__((__export_name__("wasmcache:cache/cache@0.1.0#set")))
cache_result_unit_t *wasmcache_cache_export_set(uint8_t *key, size_t key_len, uint8_t *value,
                                                size_t value_len, int32_t ttl_is_some,
                                                int32_t ttl) {
  static cache_result_unit_t ret;
  cache_result_unit_set(&ret, cache_impl_set(key, key_len, value, value_len, ttl_is_some != 0,
                                             (uint32_t)ttl));
  return &ret;
}

__attribute__((__export_name__("wasmcache:cache/cache@0.1.0#get")))
cache_result_bytes_t *wasmcache_cache_export_get(uint8_t *key, size_t key_len) {
  static cache_result_bytes_t ret;
  const uint8_t *value = NULL;
  size_t value_len = 0;
  cache_status_t status = cache_impl_get(key, key_len, &value, &value_len);
  cache_buffer_free(key, key_len);
  ret.is_err = status != CACHE_OK;
  if (status == CACHE_OK) {
    ret.val.ok.ptr = (uint8_t *)value;
    ret.val.ok.len = value_len;
  } else {
    ret.val.error = (uint8_t)(status - 1);
  }
  return &ret;
}

__attribute__((__export_name__("wasmcache:cache/cache@0.1.0#delete")))
cache_result_unit_t *wasmcache_cache_export_delete(uint8_t *key, size_t key_len) {
  static cache_result_unit_t ret;
  cache_result_unit_set(&ret, cache_impl_delete(key, key_len));
  cache_buffer_free(key, key_len);
  return &ret;
}

#endif /* WASMCACHE_CACHE_EXPORT_H */
