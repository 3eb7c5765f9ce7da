;; The Internet checksum (RFC 1071) over bytes in an imported memory, for
;; examples/wasm_checksum.ts. Compiled at run time with wabt (see wat.ts),
;; or by hand: `npx wat2wasm --enable-threads checksum.wat`.
;;
;; The memory is the WasmBackend's: a fragment's address is a pointer here,
;; so `csum` reads the fragment where it lies. checksum_module.ts rewrites
;; the limits of the import below to those of the memory it is given (a
;; shared memory must be imported as shared, with a maximum).
(module
  (import "env" "memory" (memory $memory 1 1024 shared))

  ;; csum(ptr, len): the complement of the one's-complement sum of the
  ;; big-endian 16-bit words of the `len` bytes at `ptr`, an odd last byte
  ;; padded with a zero byte.
  ;;
  ;; It adds the bytes as little-endian words (wasm loads are little-endian),
  ;; 32 bits at a time into a 64-bit sum, then 16, then 8; folds the carries
  ;; back in; and swaps the two bytes at the end. RFC 1071 section 2(B): the
  ;; one's-complement sum is byte-order independent, so the little-endian
  ;; sum byte-swapped is the big-endian sum, and a 32-bit word is congruent
  ;; to the sum of its two 16-bit halves modulo 0xffff. Fragments start at
  ;; any byte, hence the `align=1` hints.
  (func $csum (export "csum") (param $ptr i32) (param $len i32) (result i32)
    (local $sum i64)
    (local $s i32)
    ;; while (len >= 4) take 32 bits
    (block $words_done
      (loop $words
        (br_if $words_done (i32.lt_u (local.get $len) (i32.const 4)))
        (local.set $sum
          (i64.add (local.get $sum) (i64.load32_u align=1 (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
        (local.set $len (i32.sub (local.get $len) (i32.const 4)))
        (br $words)))
    ;; if (len >= 2) take 16 bits
    (if (i32.ge_u (local.get $len) (i32.const 2))
      (then
        (local.set $sum
          (i64.add (local.get $sum) (i64.load16_u align=1 (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 2)))
        (local.set $len (i32.sub (local.get $len) (i32.const 2)))))
    ;; if (len == 1) take the last byte: the low byte of a little-endian
    ;; word whose high byte is the zero padding
    (if (local.get $len)
      (then
        (local.set $sum
          (i64.add (local.get $sum) (i64.load8_u (local.get $ptr))))))
    ;; while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16)
    (block $folded
      (loop $fold
        (br_if $folded
          (i64.eqz (i64.shr_u (local.get $sum) (i64.const 16))))
        (local.set $sum
          (i64.add
            (i64.and (local.get $sum) (i64.const 0xffff))
            (i64.shr_u (local.get $sum) (i64.const 16))))
        (br $fold)))
    ;; s = sum; return (((s & 0xff) << 8) | (s >> 8)) ^ 0xffff
    (local.set $s (i32.wrap_i64 (local.get $sum)))
    (i32.xor
      (i32.or
        (i32.shl (i32.and (local.get $s) (i32.const 0xff)) (i32.const 8))
        (i32.shr_u (local.get $s) (i32.const 8)))
      (i32.const 0xffff)))

  ;; mark(ptr, value): memory[ptr] = value (a byte written in place, for
  ;; the example to read back through the fragment's view)
  (func $mark (export "mark") (param $ptr i32) (param $value i32)
    (i32.store8 (local.get $ptr) (local.get $value)))
)
