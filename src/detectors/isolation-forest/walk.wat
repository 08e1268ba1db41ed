;; Walking rows down one tree of an Isolation Forest: the hot loop of scoring (see score.ts),
;; compiled once to WebAssembly, where a step costs about a third of what it costs in JavaScript
;; (no bounds or type checks on the four loads of a step).
;;
;; Memory, laid out by score.ts (all little-endian, byte addresses):
;; - a tree's nodes at $nodes, 16 bytes each: f64 threshold, i32 byte address of the left child
;;   (the right child follows it), i32 byte offset of the split's feature within a row. A leaf has
;;   threshold +Infinity and itself as left child, so a walk may take more steps than the leaf's depth.
;; - the path length of a row ending at each node, f64, at $paths + 8 * (node index in the tree).
;; - the rows at $points, row-major f64, $stride bytes apart.
;; - the running sums, f64 per row, at $sums.
;; A step: node = left(node) + 16 * (value > threshold); after $steps steps (the tree's depth)
;; every row sits in its leaf, whose path length is added to the row's sum. Eight rows walk at
;; once, so that their chains of dependent loads overlap.
(module
  (memory (export "memory") 1)
  (func (export "walk")
    (param $nodes i32) (param $paths i32) (param $steps i32)
    (param $points i32) (param $stride i32) (param $rows i32) (param $sums i32)
    (local $row i32) (local $blockEnd i32) (local $step i32) (local $sum i32)
    (local $node0 i32) (local $node1 i32) (local $node2 i32) (local $node3 i32) (local $node4 i32) (local $node5 i32) (local $node6 i32) (local $node7 i32)
    (local $point0 i32) (local $point1 i32) (local $point2 i32) (local $point3 i32) (local $point4 i32) (local $point5 i32) (local $point6 i32) (local $point7 i32)
    (local.set $blockEnd (i32.and (local.get $rows) (i32.const -8)))
    (block $blocksDone
      (loop $block
        (br_if $blocksDone (i32.ge_u (local.get $row) (local.get $blockEnd)))
        (local.set $point0 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 0)) (local.get $stride))))
        (local.set $point1 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 1)) (local.get $stride))))
        (local.set $point2 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 2)) (local.get $stride))))
        (local.set $point3 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 3)) (local.get $stride))))
        (local.set $point4 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 4)) (local.get $stride))))
        (local.set $point5 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 5)) (local.get $stride))))
        (local.set $point6 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 6)) (local.get $stride))))
        (local.set $point7 (i32.add (local.get $points) (i32.mul (i32.add (local.get $row) (i32.const 7)) (local.get $stride))))
        (local.set $node0 (local.get $nodes))
        (local.set $node1 (local.get $nodes))
        (local.set $node2 (local.get $nodes))
        (local.set $node3 (local.get $nodes))
        (local.set $node4 (local.get $nodes))
        (local.set $node5 (local.get $nodes))
        (local.set $node6 (local.get $nodes))
        (local.set $node7 (local.get $nodes))
        (local.set $step (local.get $steps))
        (block $walked
          (loop $walk
            (br_if $walked (i32.eqz (local.get $step)))
            (local.set $node0 (i32.add (i32.load offset=8 (local.get $node0)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point0) (i32.load offset=12 (local.get $node0)))) (f64.load (local.get $node0))) (i32.const 4))))
            (local.set $node1 (i32.add (i32.load offset=8 (local.get $node1)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point1) (i32.load offset=12 (local.get $node1)))) (f64.load (local.get $node1))) (i32.const 4))))
            (local.set $node2 (i32.add (i32.load offset=8 (local.get $node2)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point2) (i32.load offset=12 (local.get $node2)))) (f64.load (local.get $node2))) (i32.const 4))))
            (local.set $node3 (i32.add (i32.load offset=8 (local.get $node3)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point3) (i32.load offset=12 (local.get $node3)))) (f64.load (local.get $node3))) (i32.const 4))))
            (local.set $node4 (i32.add (i32.load offset=8 (local.get $node4)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point4) (i32.load offset=12 (local.get $node4)))) (f64.load (local.get $node4))) (i32.const 4))))
            (local.set $node5 (i32.add (i32.load offset=8 (local.get $node5)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point5) (i32.load offset=12 (local.get $node5)))) (f64.load (local.get $node5))) (i32.const 4))))
            (local.set $node6 (i32.add (i32.load offset=8 (local.get $node6)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point6) (i32.load offset=12 (local.get $node6)))) (f64.load (local.get $node6))) (i32.const 4))))
            (local.set $node7 (i32.add (i32.load offset=8 (local.get $node7)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point7) (i32.load offset=12 (local.get $node7)))) (f64.load (local.get $node7))) (i32.const 4))))
            (local.set $step (i32.sub (local.get $step) (i32.const 1)))
            (br $walk)))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 0)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node0) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 1)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node1) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 2)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node2) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 3)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node3) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 4)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node4) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 5)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node5) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 6)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node6) (local.get $nodes)) (i32.const 1))))))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (i32.add (local.get $row) (i32.const 7)) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node7) (local.get $nodes)) (i32.const 1))))))
        (local.set $row (i32.add (local.get $row) (i32.const 8)))
        (br $block)))
    ;; The last rows % 8, one at a time.
    (block $rowsDone
      (loop $tail
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $point0 (i32.add (local.get $points) (i32.mul (local.get $row) (local.get $stride))))
        (local.set $node0 (local.get $nodes))
        (local.set $step (local.get $steps))
        (block $walked
          (loop $walk
            (br_if $walked (i32.eqz (local.get $step)))
            (local.set $node0 (i32.add (i32.load offset=8 (local.get $node0)) (i32.shl (f64.gt (f64.load (i32.add (local.get $point0) (i32.load offset=12 (local.get $node0)))) (f64.load (local.get $node0))) (i32.const 4))))
            (local.set $step (i32.sub (local.get $step) (i32.const 1)))
            (br $walk)))
        (local.set $sum (i32.add (local.get $sums) (i32.shl (local.get $row) (i32.const 3))))
        (f64.store (local.get $sum) (f64.add (f64.load (local.get $sum)) (f64.load (i32.add (local.get $paths) (i32.shr_u (i32.sub (local.get $node0) (local.get $nodes)) (i32.const 1))))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $tail)))))
