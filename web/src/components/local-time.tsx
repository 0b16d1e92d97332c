/**
 * A moment as every page shows it (format.ts): in the browser's zone, with the zone and the
 * UTC time on hover. `date` shows the day alone.
 */
import { formatDate, formatTime, formatTimeWithZone } from '../format';

export function LocalTime({ ms, date = false }: { ms: number; date?: boolean }) {
  return (
    <time dateTime={new Date(ms).toISOString()} title={formatTimeWithZone(ms)}>
      {date ? formatDate(ms) : formatTime(ms)}
    </time>
  );
}
