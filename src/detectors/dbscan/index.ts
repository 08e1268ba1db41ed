/** DBSCAN clustering and the nearest-core-point distances that score its outliers. */
export { dbscan } from './cluster.js';
export type { DbscanOptions, DbscanResult } from './cluster.js';
export { nearestCoreDistance } from './nearest-core.js';
