;; A component that exports nothing: not a command guest.
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m)))
