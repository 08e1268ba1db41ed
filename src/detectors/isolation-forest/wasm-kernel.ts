/**
 * The forest's hand-written WebAssembly kernels (grow.wat, walk.wat, assembled into grow-wasm.ts and
 * walk-wasm.ts by scripts/assemble-wasm.mjs): one instance of each per thread, whose memory the
 * caller lays its data into.
 */
import { WASM_BASE64 as GROW_WASM } from './grow-wasm.js';
import { WASM_BASE64 as WALK_WASM } from './walk-wasm.js';

/** Bytes a thread's instance may keep between calls (16 MiB); a call needing more gets an instance of its own, dropped after it. */
const KEPT_BYTES = 2 ** 24;
const PAGE_BYTES = 65_536;

/** The part of the WebAssembly global used here: the ES library of our tsconfig leaves it out (lib.dom has it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

interface KernelMemory {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
}

/** A kernel's functions with memory for a call's layout, and views of that memory (taken after any growth, which detaches earlier views). */
export interface KernelCall<Exports> {
  kernel: Exports;
  f64: Float64Array;
  i32: Int32Array;
}

class WasmKernel<Exports extends object> {
  private compiled: object | undefined;
  private kept: (Exports & KernelMemory) | undefined;

  constructor(private readonly base64: string) {}

  /** The thread's instance with at least `bytes` of memory. */
  withMemory(bytes: number): KernelCall<Exports> {
    const instance = bytes <= KEPT_BYTES ? (this.kept ??= this.instantiate()) : this.instantiate();
    const missing = bytes - instance.memory.buffer.byteLength;
    if (missing > 0) instance.memory.grow(Math.ceil(missing / PAGE_BYTES));
    const { buffer } = instance.memory;
    return { kernel: instance, f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
  }

  private instantiate(): Exports & KernelMemory {
    this.compiled ??= new WebAssembly.Module(Buffer.from(this.base64, 'base64'));
    return new WebAssembly.Instance(this.compiled).exports as Exports & KernelMemory;
  }
}

/** Grows the trees of a forest (see grow.wat); returns the number of nodes. */
export const growKernel = new WasmKernel<{
  grow(
    treeCount: number, sampleSize: number, rowCount: number, featureCount: number, maxDepth: number, seed: number,
    columns: number, permutation: number, rows: number, stack: number, candidates: number,
    feature: number, threshold: number, left: number, leafSize: number, treeStart: number,
  ): number;
}>(GROW_WASM);

/** Adds, to each of `rows` sums at `sums`, the path length of the leaf its row reaches in the tree at `nodes` (see walk.wat). */
export const walkKernel = new WasmKernel<{
  walk(nodes: number, paths: number, steps: number, points: number, stride: number, rows: number, sums: number): void;
}>(WALK_WASM);
