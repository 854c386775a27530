;; A command guest that imports an interface the host does not provide.
(component
  (import "acme:missing/thing@1.0.0" (instance $thing (export "poke" (func))))
  (core module $m
    (func (export "run") (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
