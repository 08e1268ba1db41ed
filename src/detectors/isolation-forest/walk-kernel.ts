/**
 * The tree walk of scoring as WebAssembly (walk.wat, assembled into walk-wasm.ts): one instance per
 * thread, whose memory the caller lays trees and rows into.
 */
import { WASM_BASE64 } from './walk-wasm.js';

/** Bytes a thread's instance may keep between calls (16 MiB); a call needing more gets an instance of its own, dropped after it. */
const KEPT_BYTES = 2 ** 24;
const PAGE_BYTES = 65_536;

/** The part of the WebAssembly global used here: the ES library of our tsconfig leaves it out (lib.dom has it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

interface WalkExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  /** Adds, to each of `rows` sums at `sums`, the path length of the leaf its row reaches in the tree at `nodes` (see walk.wat). */
  walk(nodes: number, paths: number, steps: number, points: number, stride: number, rows: number, sums: number): void;
}

let compiled: object | undefined;
let kept: WalkExports | undefined;

function instantiate(): WalkExports {
  compiled ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  return new WebAssembly.Instance(compiled).exports as WalkExports;
}

/** A kernel with memory for the layout, and views of that memory (taken after any growth, which detaches earlier views). */
export interface WalkMemory {
  walk: WalkExports['walk'];
  f64: Float64Array;
  i32: Int32Array;
}

/** The thread's kernel with at least `bytes` of memory. */
export function walkMemory(bytes: number): WalkMemory {
  const kernel = bytes <= KEPT_BYTES ? (kept ??= instantiate()) : instantiate();
  const missing = bytes - kernel.memory.buffer.byteLength;
  if (missing > 0) kernel.memory.grow(Math.ceil(missing / PAGE_BYTES));
  const { buffer } = kernel.memory;
  return { walk: kernel.walk, f64: new Float64Array(buffer), i32: new Int32Array(buffer) };
}
