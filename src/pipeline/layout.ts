import type { TablePipelineConfig } from '../config/index.js';
import { partitionPrefix } from '../lake/index.js';

/** Where a pipeline reads and writes for one logical date, relative to the lake root. */
export function pipelineLayout(pipelineName: string, pipeline: TablePipelineConfig, logicalDate: string) {
  const anomaliesTable = pipeline.publish.table ?? `${pipelineName}_anomalies`;
  return {
    input: partitionPrefix('bronze', pipeline.dataset, logicalDate),
    silver: `${partitionPrefix('silver', pipeline.dataset, logicalDate)}data.parquet`,
    quarantine: `${partitionPrefix('silver', `${pipeline.dataset}_quarantine`, logicalDate)}quarantine.parquet`,
    quality: `${partitionPrefix('silver', `${pipeline.dataset}_quality`, logicalDate)}report.json`,
    aggregate: (name: string) => `${partitionPrefix('gold', name, logicalDate)}data.parquet`,
    anomaliesTable,
    anomalies: `${partitionPrefix('gold', anomaliesTable, logicalDate)}anomalies.json`,
    summary: `${partitionPrefix('gold', pipeline.publish.summary ?? `${pipelineName}_summary`, logicalDate)}summary.json`,
  };
}

/** A run's intermediate results (detector findings before publishing), kept for resume and audit. */
export function runScratchPrefix(pipelineName: string, runId: string): string {
  return `runs/${pipelineName}/${runId}/`;
}
