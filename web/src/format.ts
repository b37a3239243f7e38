/**
 * Small formatting helpers shared by the pages.
 */
import type { Interval } from './api.ts';

export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : `${(100 * value).toFixed(digits)}%`;
}

export function intervalText(interval: Interval): string {
  return `95% CI ${percent(interval.low)} – ${percent(interval.high)}`;
}

export function number(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}

export function ago(time: number, now: number = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(time).toISOString().slice(0, 10);
}

export function runHref(run: string, tab: string, item?: string | number): string {
  const tail = item === undefined ? '' : `/${item}`;
  return `#/runs/${encodeURIComponent(run)}/${tab}${tail}`;
}
