;; A component exporting wasmcache:cache/cache@0.1.0 with one wrong signature: its get returns
;; a string, not list<u8>. `--cache-component` must refuse it before the guest runs.
(component
  (core module $M
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "set") (param i32 i32 i32 i32 i32 i32) (result i32) (i32.const 0))
    (func (export "get") (param i32 i32) (result i32) (i32.const 0))
    (func (export "delete") (param i32 i32) (result i32) (i32.const 0)))
  (core instance $m (instantiate $M))
  (alias core export $m "memory" (core memory $mem))
  (alias core export $m "realloc" (core func $realloc))
  (type $error' (enum "not-found" "invalid-key" "value-too-large" "access-denied" "unavailable"
                      "internal"))
  (export $error "error" (type $error'))
  (type $payload' (list u8))
  (export $payload "payload" (type $payload'))
  (func $set (param "key" string) (param "value" $payload) (param "ttl" (option u32))
             (result (result (error $error)))
    (canon lift (core func $m "set") (memory $mem) (realloc $realloc)))
  (func $get (param "key" string) (result (result string (error $error)))
    (canon lift (core func $m "get") (memory $mem) (realloc $realloc)))
  (func $delete (param "key" string) (result (result (error $error)))
    (canon lift (core func $m "delete") (memory $mem) (realloc $realloc)))
  (instance $cache (export "error" (type $error)) (export "payload" (type $payload))
                   (export "set" (func $set)) (export "get" (func $get))
                   (export "delete" (func $delete)))
  (export "wasmcache:cache/cache@0.1.0" (instance $cache)))
