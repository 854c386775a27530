;; A command guest that copies its stdin to stdout and writes its environment to stderr, one
;; NAME=VALUE line per variable: what a host gives a run as stdin and env, seen from inside.
(component
  (import "wasi:io/error@0.2.0" (instance $io_error
    (export "error" (type (sub resource)))))
  (alias export $io_error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type $err))
    (export "error" (type $err_e (eq $err)))
    (export "input-stream" (type $is (sub resource)))
    (export "output-stream" (type $os (sub resource)))
    (type $se (variant (case "last-operation-failed" (own $err_e)) (case "closed")))
    (export "stream-error" (type $se_e (eq $se)))
    (export "[method]input-stream.blocking-read"
      (func (param "self" (borrow $is)) (param "len" u64)
            (result (result (list u8) (error $se_e)))))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8))
            (result (result (error $se_e)))))))
  (alias export $streams "input-stream" (type $input_stream))
  (alias export $streams "output-stream" (type $output_stream))
  (import "wasi:cli/environment@0.2.0" (instance $environment
    (export "get-environment" (func (result (list (tuple string string)))))))
  (import "wasi:cli/stdin@0.2.0" (instance $stdin
    (alias outer 1 $input_stream (type $is))
    (export "input-stream" (type $is_e (eq $is)))
    (export "get-stdin" (func (result (own $is_e))))))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output_stream (type $os))
    (export "output-stream" (type $os_e (eq $os)))
    (export "get-stdout" (func (result (own $os_e))))))
  (import "wasi:cli/stderr@0.2.0" (instance $stderr
    (alias outer 1 $output_stream (type $os))
    (export "output-stream" (type $os_e (eq $os)))
    (export "get-stderr" (func (result (own $os_e))))))

  ;; memory and a bump allocator that grows the memory as needed
  (core module $mem
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32) (local $end i32)
      (local.set $ptr (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (local.set $end (i32.add (local.get $ptr) (local.get 3)))
      (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
        (then (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end)
                                                                    (i32.shl (memory.size)
                                                                             (i32.const 16)))
                                                           (i32.const 65535))
                                                  (i32.const 16)))
                          (i32.const -1))
                (then unreachable))))
      (global.set $next (local.get $end))
      (local.get $ptr)))
  (core instance $m (instantiate $mem))
  (alias core export $m "memory" (core memory $memory))
  (alias core export $m "realloc" (core func $realloc))

  (alias export $environment "get-environment" (func $get_environment))
  (alias export $stdin "get-stdin" (func $get_stdin))
  (alias export $stdout "get-stdout" (func $get_stdout))
  (alias export $stderr "get-stderr" (func $get_stderr))
  (alias export $streams "[method]input-stream.blocking-read" (func $read))
  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $write))
  (core func $get_environment_lowered
    (canon lower (func $get_environment) (memory $memory) (realloc $realloc)))
  (core func $get_stdin_lowered (canon lower (func $get_stdin)))
  (core func $get_stdout_lowered (canon lower (func $get_stdout)))
  (core func $get_stderr_lowered (canon lower (func $get_stderr)))
  (core func $read_lowered (canon lower (func $read) (memory $memory) (realloc $realloc)))
  (core func $write_lowered (canon lower (func $write) (memory $memory) (realloc $realloc)))

  (core module $guest
    (import "host" "memory" (memory 1))
    (import "host" "get-environment" (func $get_environment (param i32)))
    (import "host" "get-stdin" (func $get_stdin (result i32)))
    (import "host" "get-stdout" (func $get_stdout (result i32)))
    (import "host" "get-stderr" (func $get_stderr (result i32)))
    (import "host" "read" (func $read (param i32 i64 i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    ;; 0: "=" and "\n"; 64 and 96: return areas
    (data (i32.const 0) "=\n")
    (func (export "run") (result i32)
      (local $err i32) (local $out i32) (local $in i32) (local $i i32) (local $entry i32)
      (local.set $err (call $get_stderr))
      (call $get_environment (i32.const 64))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 68))))
          (local.set $entry (i32.add (i32.load (i32.const 64)) (i32.shl (local.get $i) (i32.const 4))))
          (call $write (local.get $err) (i32.load (local.get $entry))
                       (i32.load offset=4 (local.get $entry)) (i32.const 96))
          (call $write (local.get $err) (i32.const 0) (i32.const 1) (i32.const 96))
          (call $write (local.get $err) (i32.load offset=8 (local.get $entry))
                       (i32.load offset=12 (local.get $entry)) (i32.const 96))
          (call $write (local.get $err) (i32.const 1) (i32.const 1) (i32.const 96))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.set $in (call $get_stdin))
      (local.set $out (call $get_stdout))
      (block $eof
        (loop $copy
          (call $read (local.get $in) (i64.const 4096) (i32.const 64))
          (br_if $eof (i32.load8_u (i32.const 64)))  ;; err: closed (or failed); 4096: the most one blocking write may take
          (call $write (local.get $out) (i32.load (i32.const 68)) (i32.load (i32.const 72))
                       (i32.const 96))
          (br $copy)))
      (i32.const 0)))
  (core instance $g (instantiate $guest
    (with "host" (instance
      (export "memory" (memory $memory))
      (export "get-environment" (func $get_environment_lowered))
      (export "get-stdin" (func $get_stdin_lowered))
      (export "get-stdout" (func $get_stdout_lowered))
      (export "get-stderr" (func $get_stderr_lowered))
      (export "read" (func $read_lowered))
      (export "write" (func $write_lowered))))))
  (func $run (result (result)) (canon lift (core func $g "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
