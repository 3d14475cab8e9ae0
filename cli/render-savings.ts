/** The Savings section of `arr status`: what the cache saved over the recorded history. */
import pc from 'picocolors';
import {formatUsd} from '../shared/build-rates';
import {formatDuration} from '../shared/format-duration';
import type {SavingsView} from './views';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function savingsLines(savings: SavingsView): string[] {
  const s = savings;
  if (s.requested === 0) {
    return [pc.bold('Savings'), '  (nothing decided yet)'];
  }
  const lines = [
    pc.bold('Savings') + pc.dim(' (all recorded history)'),
    `  ${plural(s.requested, 'build')} requested, ${s.started} started, ${pc.green(`${s.avoided} avoided`)} (${plural(s.cacheHits, 'cache hit')}, ${s.duplicatesAbsorbed} duplicate${s.duplicatesAbsorbed === 1 ? '' : 's'} absorbed)${s.adopted ? `, ${s.adopted} adopted` : ''}`,
    `  build time avoided: ${pc.green(formatDuration(s.buildSecondsAvoided))}, estimated ${pc.green(formatUsd(s.estimatedCostAvoidedUsd))} at Cloud Build list prices (${s.byMachineType.map(m => `${m.machineType} ${m.usdPerMinute === null ? 'no rate' : `$${m.usdPerMinute}/min`}`).join(', ') || 'no machine yet'}; ${s.rates.lookedUp}${s.rates.overridden.length ? `; BUILD_MINUTE_RATES for ${s.rates.overridden.join(', ')}` : ''})`,
  ];
  if (s.layerReuse.builds > 0) {
    lines.push(
      `  key changes: ${plural(s.layerReuse.builds, 'build')} took layers from the cache, ${pc.green(formatDuration(s.layerReuse.buildSecondsSaved))} of build time not spent (against each image's last cold build)`,
    );
  }
  if (s.avoidedWithoutDuration > 0) {
    lines.push(
      pc.dim(
        `  ${plural(s.avoidedWithoutDuration, 'avoided build')} not in that time: the build that made the image has no recorded duration (adopted, still running, or older)`,
      ),
    );
  }
  return lines;
}
