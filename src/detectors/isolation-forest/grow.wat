;; Growing the trees of an Isolation Forest: fit.ts's algorithm (see its comments) compiled once to
;; WebAssembly, where its scans over a node's rows cost about half what they cost in JavaScript.
;; It draws the same random numbers in the same order as SeededRandom (src/random.ts), written out
;; where they are drawn, so a seed grows the same forest, bit for bit, as it always has.
;;
;; Memory, laid out by fit.ts (byte addresses, little-endian):
;; - the columns at $columns, feature by feature, each $rowCount f64;
;; - scratch: $permutation (i32 per row), $rows (i32 per sampled row), $stack (i32, 4 per pending
;;   node: node, start and end of its rows, depth), $candidates (i32 per feature);
;; - the forest grown: per node i32 feature at $feature (-1 for a leaf), f64 threshold at
;;   $threshold, i32 left child at $left (-1 for a leaf), i32 leaf size at $leafSize (0 for a
;;   split); i32 first node of each tree at $treeStart (treeCount + 1 entries).
(module
  (memory (export "memory") 1)

  ;; Grows $treeCount trees, each on its own $sampleSize rows drawn without replacement, down to
  ;; depth $maxDepth; returns the number of nodes.
  (func (export "grow")
    (param $treeCount i32) (param $sampleSize i32) (param $rowCount i32) (param $featureCount i32)
    (param $maxDepth i32) (param $seed i32)
    (param $columns i32) (param $permutation i32) (param $rows i32) (param $stack i32) (param $candidates i32)
    (param $feature i32) (param $threshold i32) (param $left i32) (param $leafSize i32) (param $treeStart i32)
    (result i32)
    (local $tree i32) (local $i i32) (local $pick i32) (local $row i32)
    (local $nextNode i32) (local $top i32)
    (local $node i32) (local $start i32) (local $end i32) (local $depth i32)
    (local $split i32) (local $remaining i32) (local $column i32)
    (local $low f64) (local $high f64) (local $value f64) (local $cut f64) (local $lowEnd i32)
    (local $state i32) (local $bits i32) (local $uniform f64)
    (local.set $state (local.get $seed))
    (local.set $row (i32.const 0))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $row) (local.get $rowCount)))
        (i32.store (i32.add (local.get $permutation) (i32.shl (local.get $row) (i32.const 2))) (local.get $row))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $fill)))
    (i32.store (local.get $treeStart) (i32.const 0))
    (block $grown
      (loop $trees
        (br_if $grown (i32.ge_u (local.get $tree) (local.get $treeCount)))
        ;; Partial Fisher-Yates over the permutation kept across trees: each prefix is a fresh sample.
        (local.set $i (i32.const 0))
        (block $sampled
          (loop $sample
            (br_if $sampled (i32.ge_u (local.get $i) (local.get $sampleSize)))
            ;; SeededRandom.next53: uniform in [0, 1) from two draws, the first the high bits (times 2^-53, exactly its / 2^53).
            ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
            (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
            (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
            (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
            (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
            (local.set $uniform (f64.mul (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 5))) (f64.const 67108864)))
            ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
            (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
            (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
            (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
            (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
            (local.set $uniform (f64.mul (f64.add (local.get $uniform) (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 6)))) (f64.const 0x1p-53)))
            ;; SeededRandom.below: a uniform integer in 0..count-1 (truncation is its floor: the product is >= 0).
            (local.set $pick (i32.trunc_f64_u (f64.mul (local.get $uniform) (f64.convert_i32_u (i32.sub (local.get $rowCount) (local.get $i))))))
            (local.set $pick (i32.add (local.get $i) (local.get $pick)))
            (local.set $row (i32.load (i32.add (local.get $permutation) (i32.shl (local.get $pick) (i32.const 2)))))
            (i32.store (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2))) (local.get $row))
            (i32.store (i32.add (local.get $permutation) (i32.shl (local.get $pick) (i32.const 2)))
              (i32.load (i32.add (local.get $permutation) (i32.shl (local.get $i) (i32.const 2)))))
            (i32.store (i32.add (local.get $permutation) (i32.shl (local.get $i) (i32.const 2))) (local.get $row))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $sample)))
        ;; The root, with all sampled rows, at depth 0.
        (i32.store (local.get $stack) (local.get $nextNode))
        (i32.store offset=4 (local.get $stack) (i32.const 0))
        (i32.store offset=8 (local.get $stack) (local.get $sampleSize))
        (i32.store offset=12 (local.get $stack) (i32.const 0))
        (local.set $top (i32.const 16))
        (local.set $nextNode (i32.add (local.get $nextNode) (i32.const 1)))
        (block $treeDone
          (loop $nodes
            (br_if $treeDone (i32.eqz (local.get $top)))
            (local.set $top (i32.sub (local.get $top) (i32.const 16)))
            (local.set $node (i32.load (i32.add (local.get $stack) (local.get $top))))
            (local.set $start (i32.load offset=4 (i32.add (local.get $stack) (local.get $top))))
            (local.set $end (i32.load offset=8 (i32.add (local.get $stack) (local.get $top))))
            (local.set $depth (i32.load offset=12 (i32.add (local.get $stack) (local.get $top))))
            (local.set $split (i32.const -1))
            (if (i32.and (i32.lt_u (local.get $depth) (local.get $maxDepth)) (i32.gt_s (i32.sub (local.get $end) (local.get $start)) (i32.const 1)))
              (then
                ;; Features drawn without replacement until one varies on the node's rows.
                (local.set $i (i32.const 0))
                (block $reset
                  (loop $candidate
                    (br_if $reset (i32.ge_u (local.get $i) (local.get $featureCount)))
                    (i32.store (i32.add (local.get $candidates) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $candidate)))
                (local.set $remaining (local.get $featureCount))
                (block $drawn
                  (loop $draw
                    (br_if $drawn (i32.eqz (local.get $remaining)))
                    ;; SeededRandom.next53: uniform in [0, 1) from two draws, the first the high bits (times 2^-53, exactly its / 2^53).
                    ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
                    (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
                    (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
                    (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
                    (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
                    (local.set $uniform (f64.mul (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 5))) (f64.const 67108864)))
                    ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
                    (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
                    (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
                    (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
                    (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
                    (local.set $uniform (f64.mul (f64.add (local.get $uniform) (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 6)))) (f64.const 0x1p-53)))
                    ;; SeededRandom.below: a uniform integer in 0..count-1 (truncation is its floor: the product is >= 0).
                    (local.set $pick (i32.trunc_f64_u (f64.mul (local.get $uniform) (f64.convert_i32_u (local.get $remaining)))))
                    (local.set $split (i32.load (i32.add (local.get $candidates) (i32.shl (local.get $pick) (i32.const 2)))))
                    (i32.store (i32.add (local.get $candidates) (i32.shl (local.get $pick) (i32.const 2)))
                      (i32.load (i32.add (local.get $candidates) (i32.shl (i32.sub (local.get $remaining) (i32.const 1)) (i32.const 2)))))
                    (local.set $column (i32.add (local.get $columns) (i32.shl (i32.mul (local.get $split) (local.get $rowCount)) (i32.const 3))))
                    ;; The first value starts both bounds; a value below the low one cannot be above the high one.
                    (local.set $low (f64.load (i32.add (local.get $column) (i32.shl (i32.load (i32.add (local.get $rows) (i32.shl (local.get $start) (i32.const 2)))) (i32.const 3)))))
                    (local.set $high (local.get $low))
                    (local.set $i (i32.add (local.get $start) (i32.const 1)))
                    (block $scanned
                      (loop $scan
                        (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
                        (local.set $value (f64.load (i32.add (local.get $column) (i32.shl (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 3)))))
                        (local.set $low (select (local.get $value) (local.get $low) (f64.lt (local.get $value) (local.get $low))))
                        (local.set $high (select (local.get $value) (local.get $high) (f64.gt (local.get $value) (local.get $high))))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br $scan)))
                    (if (f64.gt (local.get $high) (local.get $low))
                      (then
                        ;; SeededRandom.next53: uniform in [0, 1) from two draws, the first the high bits (times 2^-53, exactly its / 2^53).
                        ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
                        (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
                        (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
                        (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
                        (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
                        (local.set $uniform (f64.mul (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 5))) (f64.const 67108864)))
                        ;; mulberry32 (SeededRandom.nextUint32), written out here: calls are not inlined.
                        (local.set $state (i32.add (local.get $state) (i32.const 0x6d2b79f5)))
                        (local.set $bits (i32.mul (i32.xor (local.get $state) (i32.shr_u (local.get $state) (i32.const 15))) (i32.or (local.get $state) (i32.const 1))))
                        (local.set $bits (i32.xor (local.get $bits) (i32.add (local.get $bits) (i32.mul (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 7))) (i32.or (local.get $bits) (i32.const 61))))))
                        (local.set $bits (i32.xor (local.get $bits) (i32.shr_u (local.get $bits) (i32.const 14))))
                        (local.set $uniform (f64.mul (f64.add (local.get $uniform) (f64.convert_i32_u (i32.shr_u (local.get $bits) (i32.const 6)))) (f64.const 0x1p-53)))
                        (local.set $cut (f64.add (local.get $low) (f64.mul (f64.sub (local.get $high) (local.get $low)) (local.get $uniform))))
                        ;; sklearn's guard: rounding must not put every row on the left.
                        (local.set $cut (select (local.get $cut) (local.get $low) (f64.lt (local.get $cut) (local.get $high))))
                        (br $drawn)))
                    (local.set $split (i32.const -1))
                    (local.set $remaining (i32.sub (local.get $remaining) (i32.const 1)))
                    (br $draw)))))
            (if (i32.lt_s (local.get $split) (i32.const 0))
              (then
                (i32.store (i32.add (local.get $feature) (i32.shl (local.get $node) (i32.const 2))) (i32.const -1))
                (f64.store (i32.add (local.get $threshold) (i32.shl (local.get $node) (i32.const 3))) (f64.const 0))
                (i32.store (i32.add (local.get $left) (i32.shl (local.get $node) (i32.const 2))) (i32.const -1))
                (i32.store (i32.add (local.get $leafSize) (i32.shl (local.get $node) (i32.const 2))) (i32.sub (local.get $end) (local.get $start)))
                (br $nodes)))
            (i32.store (i32.add (local.get $feature) (i32.shl (local.get $node) (i32.const 2))) (local.get $split))
            (f64.store (i32.add (local.get $threshold) (i32.shl (local.get $node) (i32.const 3))) (local.get $cut))
            (i32.store (i32.add (local.get $left) (i32.shl (local.get $node) (i32.const 2))) (local.get $nextNode))
            (i32.store (i32.add (local.get $leafSize) (i32.shl (local.get $node) (i32.const 2))) (i32.const 0))
            (if (i32.or (i32.eq (i32.add (local.get $depth) (i32.const 1)) (local.get $maxDepth)) (i32.eq (i32.sub (local.get $end) (local.get $start)) (i32.const 2)))
              (then
                ;; Both children are leaves: their sizes are all they need, not their rows.
                (local.set $lowEnd (local.get $start))
                (local.set $i (local.get $start))
                (block $counted
                  (loop $count
                    (br_if $counted (i32.ge_u (local.get $i) (local.get $end)))
                    (local.set $lowEnd (i32.add (local.get $lowEnd)
                      (f64.le (f64.load (i32.add (local.get $column) (i32.shl (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 3)))) (local.get $cut))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $count)))
                (i32.store (i32.add (local.get $feature) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.const -1))
                (f64.store (i32.add (local.get $threshold) (i32.shl (local.get $nextNode) (i32.const 3))) (f64.const 0))
                (i32.store (i32.add (local.get $left) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.const -1))
                (i32.store (i32.add (local.get $leafSize) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.sub (local.get $lowEnd) (local.get $start)))
                (i32.store offset=4 (i32.add (local.get $feature) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.const -1))
                (f64.store offset=8 (i32.add (local.get $threshold) (i32.shl (local.get $nextNode) (i32.const 3))) (f64.const 0))
                (i32.store offset=4 (i32.add (local.get $left) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.const -1))
                (i32.store offset=4 (i32.add (local.get $leafSize) (i32.shl (local.get $nextNode) (i32.const 2))) (i32.sub (local.get $end) (local.get $lowEnd)))
                (local.set $nextNode (i32.add (local.get $nextNode) (i32.const 2)))
                (br $nodes)))
            ;; Rows <= cut to the front, branch-free (which way a row goes is a coin toss).
            (local.set $lowEnd (local.get $start))
            (local.set $i (local.get $start))
            (block $parted
              (loop $part
                (br_if $parted (i32.ge_u (local.get $i) (local.get $end)))
                (local.set $row (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
                (i32.store (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))
                  (i32.load (i32.add (local.get $rows) (i32.shl (local.get $lowEnd) (i32.const 2)))))
                (i32.store (i32.add (local.get $rows) (i32.shl (local.get $lowEnd) (i32.const 2))) (local.get $row))
                (local.set $lowEnd (i32.add (local.get $lowEnd)
                  (f64.le (f64.load (i32.add (local.get $column) (i32.shl (local.get $row) (i32.const 3)))) (local.get $cut))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $part)))
            ;; Left, then right: the right child is grown first, which fixes the order of the random draws.
            (i32.store (i32.add (local.get $stack) (local.get $top)) (local.get $nextNode))
            (i32.store offset=4 (i32.add (local.get $stack) (local.get $top)) (local.get $start))
            (i32.store offset=8 (i32.add (local.get $stack) (local.get $top)) (local.get $lowEnd))
            (i32.store offset=12 (i32.add (local.get $stack) (local.get $top)) (i32.add (local.get $depth) (i32.const 1)))
            (i32.store offset=16 (i32.add (local.get $stack) (local.get $top)) (i32.add (local.get $nextNode) (i32.const 1)))
            (i32.store offset=20 (i32.add (local.get $stack) (local.get $top)) (local.get $lowEnd))
            (i32.store offset=24 (i32.add (local.get $stack) (local.get $top)) (local.get $end))
            (i32.store offset=28 (i32.add (local.get $stack) (local.get $top)) (i32.add (local.get $depth) (i32.const 1)))
            (local.set $top (i32.add (local.get $top) (i32.const 32)))
            (local.set $nextNode (i32.add (local.get $nextNode) (i32.const 2)))
            (br $nodes)))
        (local.set $tree (i32.add (local.get $tree) (i32.const 1)))
        (i32.store (i32.add (local.get $treeStart) (i32.shl (local.get $tree) (i32.const 2))) (local.get $nextNode))
        (br $trees)))
    (local.get $nextNode)))
