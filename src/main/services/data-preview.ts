// The data step of the wizard: what a data file holds, read with the engine's own reader so
// the preview and the run agree on columns, rows and errors.
import type { DataPreview } from '../../shared/api';
import { isDatasetError, readDataset, type ColumnMapping, type Dataset } from '../../engine/data/datasets';

export const PREVIEW_ROWS = 20;

export interface PreviewColumns {
  text?: string;
  label?: string | null;
}

function mapping(columns: PreviewColumns | undefined): ColumnMapping {
  const m: ColumnMapping = {};
  if (columns?.text !== undefined) m.text = columns.text;
  if (columns?.label !== undefined) m.label = columns.label;
  return m;
}

function findColumn(available: readonly string[], name: string): string | undefined {
  return available.find((c) => c === name) ?? available.find((c) => c.toLowerCase() === name.toLowerCase());
}

function build(ds: Dataset, labels: (string | null)[], labelColumn: string | null, extraNotes: string[], readerNotes = true): DataPreview {
  const labelCounts: Record<string, number> = {};
  let unlabeled = 0;
  for (const y of labels) {
    if (y === null) unlabeled++;
    else labelCounts[y] = (labelCounts[y] ?? 0) + 1;
  }
  const notes = [...(readerNotes ? ds.notes : []), ...extraNotes];
  if (labelColumn !== null && unlabeled > 0) notes.push(`${unlabeled} of ${labels.length} rows have no label: the teacher's predictions are used for them.`);
  if (labelColumn !== null && Object.keys(labelCounts).length === 1) notes.push('Every labelled row has the same label: accuracy on this data says little.');
  return {
    path: ds.source.path,
    format: ds.source.format,
    rows: ds.texts.length,
    columns: [...ds.columns.available],
    textColumn: ds.columns.text,
    labelColumn,
    sample: ds.texts.slice(0, PREVIEW_ROWS).map((text, i) => ({ text, label: labels[i] ?? null })),
    labelCounts,
    notes,
  };
}

/**
 * Reads a data file for the preview: row count, columns, the detected (or given) text and label
 * columns, the first rows and the label counts. Labels may be class ids or names; names are
 * matched to the teacher's labels only when a run starts, so here they are counted as written.
 * Throws the engine's DatasetError, whose message says what is wrong, where, and how to fix it.
 */
export async function previewData(file: string, columns?: PreviewColumns): Promise<DataPreview> {
  const m = mapping(columns);
  try {
    const ds = await readDataset(file, { columns: m, allowEmptyLabels: true });
    return build(ds, ds.labels.map((y) => (y === null ? null : String(y))), ds.columns.label, []);
  } catch (e) {
    if (!isDatasetError(e, 'unknown-label')) throw e;
  }
  // The labels are names (e.g. "positive"): without the teacher's id2label the reader cannot map
  // them, so read the texts without labels, then the label column's raw values.
  const ds = await readDataset(file, { columns: { text: m.text, label: null } });
  const labelColumn = typeof m.label === 'string' ? (findColumn(ds.columns.available, m.label) ?? m.label) : (findColumn(ds.columns.available, 'label') ?? null);
  const notes: string[] = [
    `Text column '${ds.columns.text}'${ds.columns.textDetected ? ' (auto-detected)' : ''}; label column ${labelColumn === null ? 'none: unlabeled, the teacher supplies the targets' : `'${labelColumn}'`}; columns found: ${ds.columns.available.join(', ')}.`,
  ];
  let raw: (string | null)[] = ds.texts.map(() => null);
  if (labelColumn !== null) {
    try {
      const asText = await readDataset(file, { format: ds.source.format, columns: { text: labelColumn, label: null } });
      if (asText.texts.length === ds.texts.length) raw = asText.texts.map((s) => s.trim());
      notes.push(`The labels in column '${labelColumn}' are names; they are matched to the teacher's labels (in any case) when the run starts.`);
    } catch {
      notes.push(`The labels in column '${labelColumn}' are names, some rows have none or they could not be counted here; they are matched to the teacher's labels when the run starts.`);
    }
  }
  return build(ds, raw, labelColumn, notes, false);
}
