/*
 * The entry point of a C command guest, linked with -nostartfiles in place of wasi-libc's
 * crt1-command.o. Debian bookworm's wasi-libc (2022) has a `_start` that leaves constructors
 * to the linker, and wasm-ld (LLVM 14) then wraps EVERY other export of a command in
 * constructor/destructor calls: `cabi_realloc`, which the host calls in the middle of a
 * cache `get` to place the value, would flush stdio (a WASI call, so wasmtime traps with
 * "cannot leave component instance") and tear libc down. Calling `__wasm_call_ctors` here, as
 * later wasi-libc releases do, tells wasm-ld that start-up is taken care of: no wrappers.
 *
 * `jco new --wasi-command` turns this `_start` into the component's `wasi:cli/run` export.
 */

#include <wasi/api.h>

extern void __wasm_call_ctors(void);
extern void __wasm_call_dtors(void);
extern int __main_void(void); /* wasi-libc: reads argv, then calls main(argc, argv) */

__attribute__((__export_name__("_start")))
void _start(void) {
  static volatile int started;
  if (started) {
    __builtin_trap(); /* a command runs once per instance */
  }
  started = 1;
  __wasm_call_ctors();
  int status = __main_void();
  __wasm_call_dtors(); /* atexit handlers, then stdio is flushed */
  if (status != 0) {
    __wasi_proc_exit((__wasi_exitcode_t)status);
  }
}
