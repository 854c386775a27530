;; A hostile command guest that imports wasmcache's private payload interface itself and sends
;; a value string outside Latin-1 ("€", U+20AC, as UTF-8) to its `set`.
(component
  (import "wasmcache:fastpath/payload@0.1.0" (instance $payload
    (export "set" (func (param "key" string) (param "value" string) (param "ttl" (option u32))
                        (result (result (error u8)))))))
  (core module $mem
    (memory (export "memory") 1)
    (data (i32.const 16) "k\e2\82\ac")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 256))
  (core instance $m (instantiate $mem))
  (alias core export $m "memory" (core memory $memory))
  (alias core export $m "realloc" (core func $realloc))
  (core func $set (canon lower (func $payload "set") (memory $memory) (realloc $realloc)))
  (core module $main
    (import "host" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
    (func (export "run") (result i32)
      (call $set (i32.const 16) (i32.const 1) (i32.const 17) (i32.const 3) (i32.const 0)
                 (i32.const 0) (i32.const 64))
      i32.const 0))
  (core instance $i (instantiate $main (with "host" (instance (export "set" (func $set))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
