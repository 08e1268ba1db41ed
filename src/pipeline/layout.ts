import type { TablePipelineConfig } from '../config/index.js';
import { dateKeys, type DateKeys, type PipelineTables } from '../lake/index.js';

/** The tables a pipeline writes, with the config's defaults (`<pipeline>_anomalies`, `<pipeline>_summary`; predictions always `<pipeline>_predictions`). */
export function pipelineTables(pipelineName: string, pipeline: TablePipelineConfig): PipelineTables {
  return {
    dataset: pipeline.dataset,
    anomaliesTable: pipeline.publish.table ?? `${pipelineName}_anomalies`,
    summaryTable: pipeline.publish.summary ?? `${pipelineName}_summary`,
    predictionsTable: `${pipelineName}_predictions`,
  };
}

/** Where a pipeline reads and writes for one logical date (keys from the lake's layout module). */
export function pipelineLayout(pipelineName: string, pipeline: TablePipelineConfig, logicalDate: string): DateKeys & Pick<PipelineTables, 'anomaliesTable' | 'predictionsTable'> {
  const tables = pipelineTables(pipelineName, pipeline);
  return { ...dateKeys(tables, logicalDate), anomaliesTable: tables.anomaliesTable, predictionsTable: tables.predictionsTable };
}
