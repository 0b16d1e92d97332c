/**
 * One colour per model, the same on every chart and page: by the model's place in the
 * service's list (GET /api/services), so kimi-k2.5 keeps its colour when other models come and go.
 */

// Distinct at a glance and readable on white (checked against the console's palette).
const PALETTE = ['#4257d6', '#e07a1f', '#1f9d74', '#c0398b', '#7a4fd1', '#2a8fbd', '#b8a21a', '#d2453c', '#5b6478'];

export function modelColor(model: string, known: readonly string[]): string {
  const index = known.indexOf(model);
  if (index >= 0) return PALETTE[index % PALETTE.length] as string;
  // A model the service no longer lists (old usage rows): a stable colour from its name.
  let hash = 0;
  for (const char of model) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length] as string;
}
