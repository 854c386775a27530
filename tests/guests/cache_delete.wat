;; A command guest that deletes the key "k" through wasmcache:cache/cache: run returns ok when
;; the delete did. Small enough to compose and compile in well under a second.
(component
  (import "wasmcache:cache/cache@0.1.0" (instance $cache
    (type $e (enum "not-found" "invalid-key" "value-too-large" "access-denied" "unavailable"
                   "internal"))
    (export "error" (type $error (eq $e)))
    (export "delete" (func (param "key" string) (result (result (error $error)))))))
  (core module $Memory
    (memory (export "memory") 1)
    (data (i32.const 64) "k"))
  (core instance $memory (instantiate $Memory))
  (alias core export $memory "memory" (core memory $mem))
  (alias export $cache "delete" (func $delete))
  (core func $delete_low (canon lower (func $delete) (memory $mem)))
  (core module $Main
    (import "a" "memory" (memory 0))
    (import "cache" "delete" (func $delete (param i32 i32 i32)))
    (func (export "run") (result i32)
      (call $delete (i32.const 64) (i32.const 1) (i32.const 128))
      (i32.load8_u (i32.const 128))))
  (core instance $main (instantiate $Main
    (with "a" (instance $memory))
    (with "cache" (instance (export "delete" (func $delete_low))))))
  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
