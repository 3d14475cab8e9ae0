/**
 * What a Cloud Build minute costs, per machine type: the list prices of the default pool,
 * in USD per build-minute, for the estimated cost of builds avoided (`arr status`, the
 * cache-hit and teardown lines). An estimate: the free tier (2,500 e2-standard-2 minutes
 * a month per billing account) is not deducted, nor are private-pool prices (higher).
 *
 * Overridable: BUILD_MINUTE_RATES="E2_HIGHCPU_32=0.07,E2_MEDIUM=0.003" (the functions'
 * environment and arr's, read by shared/config.ts).
 */
import {formatDuration} from './format-duration';

export const DEFAULT_BUILD_MINUTE_RATES_USD: Readonly<Record<string, number>> =
  {
    // Cloud Build's `UNSPECIFIED` machine is e2-standard-2.
    UNSPECIFIED: 0.006,
    E2_MEDIUM: 0.003,
    E2_HIGHCPU_8: 0.016,
    E2_HIGHCPU_32: 0.064,
    // "offered at the same price as e2-highcpu-8 and e2-highcpu-32"
    N1_HIGHCPU_8: 0.016,
    N1_HIGHCPU_32: 0.064,
  };

export const BUILD_MINUTE_RATES_SOURCE = {
  url: 'https://cloud.google.com/build/pricing',
  /** When these figures were read (the page itself said "last updated 2025-08-25"). */
  lookedUp: '2026-12-01',
} as const;

/** `MACHINE=USD,…` → rates; throws a message naming what is wrong. */
export function parseBuildMinuteRates(text: string): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const match = /^([A-Z0-9_]+)=(\d+(?:\.\d+)?)$/.exec(item);
    if (!match) {
      throw new Error(
        `"${item}" is not MACHINE_TYPE=USD_PER_MINUTE (e.g. E2_HIGHCPU_32=0.064)`,
      );
    }
    rates[match[1]] = Number(match[2]);
  }
  return rates;
}

export function ratesWith(
  overrides: Readonly<Record<string, number>> | undefined,
): Record<string, number> {
  return {...DEFAULT_BUILD_MINUTE_RATES_USD, ...(overrides ?? {})};
}

/** USD for `seconds` of build time on `machineType`; undefined for an unknown machine. */
export function buildCostUsd(
  seconds: number,
  machineType: string,
  rates: Readonly<Record<string, number>>,
): number | undefined {
  const rate = rates[machineType];
  return rate === undefined ? undefined : (seconds / 60) * rate;
}

export function formatUsd(usd: number): string {
  if (usd > 0 && usd < 0.01) return '<$0.01';
  return usd >= 100 ? `$${Math.round(usd)}` : `$${usd.toFixed(2)}`;
}

/** `built in 3 h 12 min on E2_HIGHCPU_32 (~$12.29)`. */
export function describeBuildCost(
  seconds: number,
  machineType: string,
  rates: Readonly<Record<string, number>>,
): string {
  const cost = buildCostUsd(seconds, machineType, rates);
  return `${formatDuration(seconds)} on ${machineType}${cost === undefined ? '' : ` (~${formatUsd(cost)})`}`;
}
