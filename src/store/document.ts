import type { ClusterSettings } from "../plan/cluster.js";

/** Cluster settings in the shape that `parseSettings` and `parseCluster` read. */
export interface SettingsDocument {
  range: string;
  subnetLength: number;
  tunnel: string;
  mode: string;
  datapath: string;
  bridges: { ovs: string; linux: string };
  underlayMtu?: number;
}

/**
 * Converts settings to the document shape that the parsers read, so that what a store
 * writes goes through the same validation as what a person writes.
 */
export function settingsDocument(settings: ClusterSettings): SettingsDocument {
  const document: SettingsDocument = {
    range: settings.range,
    subnetLength: settings.subnetLength,
    tunnel: settings.tunnel,
    mode: settings.mode,
    datapath: settings.datapath,
    bridges: { ovs: settings.ovsBridge, linux: settings.linuxBridge },
  };
  if (settings.underlayMtu !== undefined) {
    document.underlayMtu = settings.underlayMtu;
  }
  return document;
}

/** Lists the fields whose values differ between two settings documents, as JSON text. */
export function settingsDifferences(
  existing: SettingsDocument,
  requested: SettingsDocument,
): { field: string; existing: string; requested: string }[] {
  const before: Record<string, unknown> = { ...existing };
  const after: Record<string, unknown> = { ...requested };
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return fields
    .map((field) => ({
      field,
      existing: JSON.stringify(before[field]) ?? "(none)",
      requested: JSON.stringify(after[field]) ?? "(none)",
    }))
    .filter((difference) => difference.existing !== difference.requested);
}
