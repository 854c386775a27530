;; A small command guest (a few hundred bytes) that uses the cache and its own memory.
;;
;; Each run: the global $runs (the guest's own memory) counts the runs of this instance and
;; run returns err when it is not 1, i.e. when an earlier run's memory was still there; the
;; cache entry "visits" (one byte) is read, incremented and written back; "visits: N\n" goes to
;; stdout. So a host that gives every run a fresh instance answers ok with N counting up.
(component
  (import "wasi:io/error@0.2.0" (instance $io_error
    (export "error" (type (sub resource)))))
  (alias export $io_error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type $err))
    (export "error" (type $err_e (eq $err)))
    (export "output-stream" (type $os (sub resource)))
    (type $se (variant (case "last-operation-failed" (own $err_e)) (case "closed")))
    (export "stream-error" (type $se_e (eq $se)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8))
            (result (result (error $se_e)))))))
  (alias export $streams "output-stream" (type $output_stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output_stream (type $os))
    (export "output-stream" (type $os_e (eq $os)))
    (export "get-stdout" (func (result (own $os_e))))))
  (type $cache_error (enum "not-found" "invalid-key" "value-too-large" "access-denied"
                           "unavailable" "internal"))
  (import "wasmcache:cache/cache@0.1.0" (instance $cache
    (export "error" (type $e (eq $cache_error)))
    (export "get" (func (param "key" string) (result (result (list u8) (error $e)))))
    (export "set" (func (param "key" string) (param "value" (list u8))
                        (param "ttl" (option u32)) (result (result (error $e)))))))

  ;; memory and a bump allocator for the canonical ABI
  (core module $mem
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (local.set $ptr (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (global.set $next (i32.add (local.get $ptr) (local.get 3)))
      (local.get $ptr)))
  (core instance $m (instantiate $mem))
  (alias core export $m "memory" (core memory $memory))
  (alias core export $m "realloc" (core func $realloc))

  (alias export $cache "get" (func $get))
  (alias export $cache "set" (func $set))
  (alias export $stdout "get-stdout" (func $get_stdout))
  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $write))
  (core func $get_lowered (canon lower (func $get) (memory $memory) (realloc $realloc)))
  (core func $set_lowered (canon lower (func $set) (memory $memory) (realloc $realloc)))
  (core func $get_stdout_lowered (canon lower (func $get_stdout)))
  (core func $write_lowered (canon lower (func $write) (memory $memory) (realloc $realloc)))

  (core module $guest
    (import "host" "memory" (memory 1))
    (import "host" "get" (func $get (param i32 i32 i32)))
    (import "host" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
    (import "host" "get-stdout" (func $get_stdout (result i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    (global $runs (mut i32) (i32.const 0))
    ;; 0: "visits" (key); 16: the value byte; 32: "visits: " then up to 3 digits and "\n";
    ;; 64: return areas
    (data (i32.const 0) "visits")
    (data (i32.const 32) "visits: ")
    (func (export "run") (result i32)
      (local $n i32) (local $len i32)
      (global.set $runs (i32.add (global.get $runs) (i32.const 1)))
      (if (i32.ne (global.get $runs) (i32.const 1)) (then (return (i32.const 1))))
      ;; n = visits (first byte of the value, 0 when missing), plus one
      (call $get (i32.const 0) (i32.const 6) (i32.const 64))
      (if (i32.and (i32.eqz (i32.load8_u (i32.const 64)))
                   (i32.gt_u (i32.load (i32.const 72)) (i32.const 0)))
        (then (local.set $n (i32.load8_u (i32.load (i32.const 68))))))
      (local.set $n (i32.and (i32.add (local.get $n) (i32.const 1)) (i32.const 255)))
      (i32.store8 (i32.const 16) (local.get $n))
      (call $set (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 1)
                 (i32.const 0) (i32.const 0) (i32.const 80))
      ;; "visits: N\n"
      (local.set $len (i32.const 40))
      (if (i32.ge_u (local.get $n) (i32.const 100))
        (then (i32.store8 (local.get $len)
                          (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 100))))
              (local.set $len (i32.add (local.get $len) (i32.const 1)))))
      (if (i32.ge_u (local.get $n) (i32.const 10))
        (then (i32.store8 (local.get $len)
                          (i32.add (i32.const 48)
                                   (i32.rem_u (i32.div_u (local.get $n) (i32.const 10))
                                              (i32.const 10))))
              (local.set $len (i32.add (local.get $len) (i32.const 1)))))
      (i32.store8 (local.get $len)
                  (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (i32.store8 (i32.add (local.get $len) (i32.const 1)) (i32.const 10))
      (call $write (call $get_stdout) (i32.const 32)
                   (i32.sub (i32.add (local.get $len) (i32.const 2)) (i32.const 32))
                   (i32.const 96))
      (i32.const 0)))
  (core instance $g (instantiate $guest
    (with "host" (instance
      (export "memory" (memory $memory))
      (export "get" (func $get_lowered))
      (export "set" (func $set_lowered))
      (export "get-stdout" (func $get_stdout_lowered))
      (export "write" (func $write_lowered))))))
  (func $run (result (result)) (canon lift (core func $g "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
