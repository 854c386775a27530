/*
 * The benchmark guest in C: examples/bench_guest/app.py's protocol without componentize-py's
 * interpreter and bindings in front of each call, so what a call costs beyond it is the host's.
 *
 *     wasmcache run bench_guest_c.wasm OP:SIZE:ITERATIONS ...   # OP is get, set, delete or empty
 *
 * Prints one JSON line per spec: {"op": ..., "size": ..., "iterations": ..., "ns": ...}. `get`
 * first stores SIZE bytes under its key (and checks they read back); `empty` times the bare
 * loop. The guest's monotonic clock times only the loop. A cache error stops it (exit 1).
 */

#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmcache_cache.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int failed(const char *op, cache_status_t status) {
  fprintf(stderr, "bench_guest_c: %s failed: %s\n", op, cache_status_name(status));
  return 1;
}

static int measure(const char *op, size_t size, long iterations) {
  char key[64];
  int key_len = snprintf(key, sizeof key, "bench-%s-%zu", op, size);
  uint8_t *value = malloc(size ? size : 1);
  if (value == NULL) {
    fputs("bench_guest_c: out of memory\n", stderr);
    return 1;
  }
  for (size_t i = 0; i < size; i++) {
    value[i] = (uint8_t)(i & 0xff);
  }
  cache_status_t status = CACHE_OK;
  uint8_t *got;
  size_t got_len;
  if (strcmp(op, "get") == 0) {
    if ((status = cache_set(key, (size_t)key_len, value, size, false, 0)) != CACHE_OK ||
        (status = cache_get(key, (size_t)key_len, &got, &got_len)) != CACHE_OK) {
      return failed(op, status);
    }
    if (got_len != size || (size && memcmp(got, value, size) != 0)) {
      fputs("bench_guest_c: get read back other bytes than were set\n", stderr);
      return 1;
    }
    free(got);
  }
  uint64_t start = now_ns();
  if (strcmp(op, "get") == 0) {
    for (long i = 0; i < iterations && status == CACHE_OK; i++) {
      status = cache_get(key, (size_t)key_len, &got, &got_len);
      free(got);
    }
  } else if (strcmp(op, "set") == 0) {
    for (long i = 0; i < iterations && status == CACHE_OK; i++) {
      status = cache_set(key, (size_t)key_len, value, size, false, 0);
    }
  } else if (strcmp(op, "delete") == 0) {
    for (long i = 0; i < iterations && status == CACHE_OK; i++) {
      status = cache_delete(key, (size_t)key_len);
    }
  } else if (strcmp(op, "empty") == 0) {
    for (volatile long i = 0; i < iterations; i++) {
    }
  } else {
    fprintf(stderr, "bench_guest_c: unknown op %s: use get, set, delete or empty\n", op);
    return 1;
  }
  uint64_t elapsed = now_ns() - start;
  free(value);
  if (status != CACHE_OK) {
    return failed(op, status);
  }
  printf("{\"op\": \"%s\", \"size\": %zu, \"iterations\": %ld, \"ns\": %" PRIu64 "}\n", op, size,
         iterations, elapsed);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char op[16];
    size_t size;
    long iterations;
    char end;
    if (sscanf(argv[i], "%15[a-z]:%zu:%ld%c", op, &size, &iterations, &end) != 3) {
      fprintf(stderr, "bench_guest_c: %s is not OP:SIZE:ITERATIONS\n", argv[i]);
      return 1;
    }
    if (measure(op, size, iterations) != 0) {
      return 1;
    }
  }
  return 0;
}
