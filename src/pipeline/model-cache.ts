import { oneLine } from '../errors.js';
import type { Lake } from '../lake/index.js';
import type { Logger } from '../observability/index.js';
import type { ModelVersion, Store } from '../store/index.js';
import { ModelKindError, type LoadedModel } from './models.js';

export interface ModelCacheOptions<Loaded> {
  lake: Lake;
  store: Store;
  /** How a version is loaded: `loadModel` (per-entity models) or `loadSupervisedModel`. */
  load: (lake: Lake, record: ModelVersion) => Promise<Loaded>;
  /** Bound on the artifacts' bytes held; the least recently used go first. Default 256 MiB. */
  maxBytes?: number;
  /** How long a name's production version is trusted before the registry is asked again (another process may promote). Default 10 s. */
  productionTtlMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** A production pointer as last seen. */
interface ProductionEntry {
  version: number | null;
  checkedAt: number;
}

/**
 * Loaded models by (name, version), least recently used evicted beyond `maxBytes`, and each name's
 * production version. A version's artifact never changes, so cached models never go stale; what
 * changes is which version is production, re-read after `productionTtlMs` or at once by
 * {@link refresh} (after a promotion). A new production version that fails to load is reported
 * and the previous one keeps serving.
 *
 * @example
 * const cache = new ModelCache({ lake, store, load: loadModel });
 * const model = await cache.production('bus_iforest/B3');
 * if (model) model.detector.score(model.model, rows);
 */
export class ModelCache<Loaded extends { bytes: number } = LoadedModel> {
  private readonly models = new Map<string, Promise<Loaded>>();
  private readonly sizes = new Map<string, number>();
  private readonly productions = new Map<string, ProductionEntry>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly productionTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ModelCacheOptions<Loaded>) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.productionTtlMs = options.productionTtlMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Bytes of the artifacts held and how many models. */
  get size(): { models: number; bytes: number } {
    return { models: this.sizes.size, bytes: this.bytes };
  }

  /** Version `version` of `name`, loaded once; InputError naming the model when it cannot be. */
  async get(name: string, version: number): Promise<Loaded> {
    const key = `${name}@${version}`;
    let loading = this.models.get(key);
    if (loading === undefined) {
      loading = this.options.store.getModelVersion(name, version).then((record) => this.options.load(this.options.lake, record));
      this.models.set(key, loading);
      loading.then(
        (model) => this.admit(key, model.bytes),
        () => this.models.delete(key), // a failure is not remembered: the next call tries again
      );
    } else {
      // Most recently used last.
      this.models.delete(key);
      this.models.set(key, loading);
    }
    return loading;
  }

  /** The production version of `name` (null when it has none), as of at most `productionTtlMs` ago. */
  async production(name: string): Promise<Loaded | null> {
    const seen = this.productions.get(name);
    if (seen === undefined || this.now() - seen.checkedAt >= this.productionTtlMs) {
      try {
        await this.refresh(name);
      } catch (error) {
        // The version served so far keeps serving; with none, the caller hears why.
        if ((this.productions.get(name)?.version ?? null) === null) throw error;
      }
    }
    const version = this.productions.get(name)?.version ?? null;
    return version === null ? null : this.get(name, version);
  }

  /**
   * Reads `name`'s production version from the registry and loads it. When it does not load, the
   * version served before stays (the error is logged and thrown to the caller, e.g. `promote`).
   */
  async refresh(name: string): Promise<void> {
    const [record] = (await this.options.store.listModels({ name, stage: 'production' })).filter((model) => model.name === name);
    const version = record?.version ?? null;
    const previous = this.productions.get(name);
    if (version !== null && version !== previous?.version) {
      try {
        await this.get(name, version);
      } catch (error) {
        if (previous !== undefined) this.productions.set(name, { ...previous, checkedAt: this.now() });
        // A model of the other kind loads with the other cache: the asker's mistake, not a broken version.
        if (!(error instanceof ModelKindError)) this.options.logger?.error({ model: name, version, error: oneLine(error) }, `model ${name} v${version} does not load; v${previous?.version ?? '-'} keeps serving`);
        throw error;
      }
    }
    this.productions.set(name, { version, checkedAt: this.now() });
  }

  private admit(key: string, bytes: number): void {
    if (!this.models.has(key) || this.sizes.has(key)) return;
    this.sizes.set(key, bytes);
    this.bytes += bytes;
    // Evict least recently used first, never the one just admitted.
    for (const candidate of this.models.keys()) {
      if (this.bytes <= this.maxBytes) break;
      if (candidate === key || !this.sizes.has(candidate)) continue;
      this.bytes -= this.sizes.get(candidate) as number;
      this.sizes.delete(candidate);
      this.models.delete(candidate);
    }
  }
}
