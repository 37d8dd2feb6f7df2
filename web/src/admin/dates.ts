// Date ranges for analytics and audit filters: whole UTC days as `YYYY-MM-DD`.

const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 366;

export interface DayRange {
  from: string;
  to: string;
}

/** The UTC calendar day of `d`. */
export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function parseDay(day: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || utcDay(d) !== day ? null : d;
}

export function addDays(day: string, n: number): string {
  const d = parseDay(day);
  if (!d) throw new Error(`not a day: ${day}`);
  return utcDay(new Date(d.getTime() + n * DAY_MS));
}

/** The last `days` days, today (UTC) included. */
export function presetRange(days: number, now: Date = new Date()): DayRange {
  const to = utcDay(now);
  return { from: addDays(to, -(days - 1)), to };
}

/** Days from `from` to `to`, both included (0 when `to` is before `from` or a day is bad). */
export function rangeDays(r: DayRange): number {
  const a = parseDay(r.from);
  const b = parseDay(r.to);
  if (!a || !b || b < a) return 0;
  return Math.round((b.getTime() - a.getTime()) / DAY_MS) + 1;
}

/** Why a custom range cannot be asked for, or null when it can. */
export function rangeProblem(r: DayRange): string | null {
  if (!parseDay(r.from) || !parseDay(r.to)) return 'Pick both dates.';
  const n = rangeDays(r);
  if (n === 0) return 'The start date is after the end date.';
  if (n > MAX_RANGE_DAYS) return `A range covers at most ${MAX_RANGE_DAYS} days (this one has ${n}).`;
  return null;
}
