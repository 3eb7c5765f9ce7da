;; A tiny module for test/wasm_test.ts: wasm code that reads and writes
;; page fragments in place, through the memory a WasmBackend carves its
;; pages from. Compiled at run time with wabt (see wat.ts); the test
;; rewrites the limits of the import below for an unshared memory.
(module
  (import "env" "memory" (memory $memory 1 16384 shared))

  ;; sum(ptr, len): the sum of the `len` bytes at `ptr` (wasm sees what JS
  ;; wrote)
  (func $sum (export "sum") (param $ptr i32) (param $len i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $acc
          (i32.add (local.get $acc) (i32.load8_u (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; fill(ptr, len, value): `len` bytes at `ptr` set to `value` (JS sees
  ;; what wasm wrote); bulk memory's memory.fill
  (func $fill (export "fill") (param $ptr i32) (param $len i32) (param $value i32)
    (memory.fill (local.get $ptr) (local.get $value) (local.get $len)))
)
