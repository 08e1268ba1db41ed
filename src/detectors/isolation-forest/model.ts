/** A fitted Isolation Forest as plain data, shared by fitting, scoring and the JSON codec. */

/**
 * A fitted forest as plain data: flat typed arrays over all nodes of all trees. Node indices are
 * forest-wide; a node's children are stored next to each other, so its right child is `left + 1`.
 * {@link isolationForestToJSON} and {@link isolationForestFromJSON} convert it to and from JSON.
 */
export interface IsolationForestModel {
  /** Features the forest was fitted on; scoring takes the same columns in the same order. */
  featureCount: number;
  /** Rows each tree was grown on: mean path lengths are normalised by c(sampleSize). */
  sampleSize: number;
  /** Rows whose {@link scoreSamples} value is below the offset are outliers (sklearn `offset_`). */
  offset: number;
  /** Tree t holds nodes treeStart[t] .. treeStart[t+1]-1, its root first; treeCount + 1 entries. */
  treeStart: Int32Array;
  /** Split feature of each node; -1 marks a leaf. */
  feature: Int16Array;
  /** Split value of each node: rows with value <= threshold go left. 0 for leaves. */
  threshold: Float64Array;
  /** Left child of each node (the right child is left + 1); -1 for leaves. */
  left: Int32Array;
  /** Training rows that reached each leaf; 0 for split nodes. */
  leafSize: Int32Array;
}

/** Feature indices are stored as Int16. */
export const MAX_FEATURES = 0x7fff;

/** The trees alone, before the offset is chosen: what fitting grows and what scoring walks. */
export type Forest = Omit<IsolationForestModel, 'offset'>;
