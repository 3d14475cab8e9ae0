/** The benchmark figures as a plain-text table, one row per figure, goal beside it. */
import type {BenchResults} from './run';
import {round} from './stats';

interface Row {
  figure: string;
  measured: string;
  goal: string;
  met?: boolean;
}

const ms = (value: number) => `${round(value, 1)} ms`;
const s = (value: number) => `${round(value, 2)} s`;
const mib = (value: number) => `${round(value, 0)} MiB`;

export function rows(r: BenchResults): Row[] {
  const out: Row[] = [];
  const b = r.buildsAvoided;
  out.push({
    figure: `1 Builds, checklist cycle × ${b.cycles}`,
    measured: `${b.started} started / ${b.minimum} minimum / ${b.requested} requested (${b.avoided} avoided)`,
    goal: 'started = minimum',
    met: b.started === b.minimum,
  });
  for (const p of b.perImage) {
    out.push({
      figure: `  ${p.image}`,
      measured: `${p.started} started / ${p.minimum} minimum / ${p.requested} requested`,
      goal: p.image === 'arr-pytorch-base' ? 'built once' : '= minimum',
      met: p.started === p.minimum,
    });
  }
  out.push({
    figure: '  same base hash → "Using cached"',
    measured: `${b.cacheHits} of ${b.cycles} cycles`,
    goal: `${b.cycles} of ${b.cycles}`,
    met: b.cacheHits === b.cycles,
  });

  const c = r.cacheHit;
  out.push({
    figure: `2 Cache hit latency, ${c.events} deliveries`,
    measured: `p50 ${ms(c.p50Ms)}, p95 ${ms(c.p95Ms)}, max ${ms(c.maxMs)}${c.allHits ? '' : ' (NOT all hits)'}`,
    goal: 'p50 ≤ 25 ms',
    met: c.p50Ms <= 25 && c.allHits,
  });
  out.push({
    figure: '  remote calls per hit (cache decision)',
    measured: `${round(c.remoteCallsPerHit, 2)} = Firestore ${round(c.firestoreDecisionCallsPerHit, 2)} + stand-ins ${round(c.standInCallsPerHit, 2)} (Cloud Build ${round(c.cloudBuildCallsPerHit, 2)})`,
    goal: '≤ 2',
    met: c.remoteCallsPerHit <= 2,
  });
  out.push({
    figure: '  + run record and savings counter',
    measured: `${round(c.firestoreRunRecordCallsPerHit, 2)} Firestore calls`,
    goal: '—',
  });

  const d = r.duplicateStorm;
  out.push({
    figure: `3 Duplicate storm, ${d.deliveries} at once`,
    measured: `${d.buildsStarted} build started; ${d.runsFinished}/${d.deliveries} runs recorded in ${s(d.secondsUntilAllRecorded)} (${d.redeliveries} redelivered)`,
    goal: 'exactly 1 build',
    met: d.buildsStarted === 1 && d.runsFinished === d.deliveries,
  });

  for (const cs of r.coldStart) {
    out.push({
      figure: `4 Cold start ${cs.name}`,
      measured: `${ms(cs.functionMs)} vs floor ${ms(cs.floorMs)} = ${round(cs.ratio, 2)}× (${cs.event}; floor: ${cs.clients.join(' + ')}; median of ${cs.runs})`,
      goal: '≤ 1.3×',
      met: cs.ratio <= 1.3,
    });
  }

  const k = r.cleanup;
  out.push({
    figure: `5 Cleanup, ${k.versions} versions, +${k.latencyMs} ms/call`,
    measured: `${k.backlog.deletions} deleted in ${s(k.backlog.totalMs / 1000)} (list ${ms(k.backlog.listMs)}, plan ${ms(k.backlog.planMs)}, apply ${s(k.backlog.applyMs / 1000)}) at concurrency ${k.concurrency}; serial ${s(k.serialMs / 1000)}${k.serialMeasuredInFull ? '' : ' (100 measured, scaled)'} = ${round(k.speedup, 1)}× faster${k.leftAsPlanned ? '' : '; LEFT VERSIONS NOT AS PLANNED'}`,
    goal: '≤ 4 s',
    met: k.backlog.totalMs <= 4000 && k.leftAsPlanned,
  });
  out.push({
    figure: '  per build-finished run (default cap)',
    measured: `${k.perRun.deletions} deleted in ${s(k.perRun.totalMs / 1000)}; the backlog takes ${k.perRun.runsForBacklog} runs`,
    goal: '—',
  });

  for (const m of d.memory) {
    out.push({
      figure: `6 Peak RSS ${m.target}`,
      measured: `${mib(m.peakMiB)} (before the storm ${mib(m.beforeMiB)})`,
      goal: '—',
    });
  }

  const t = r.readyTime;
  out.push({
    figure: `7 Ready after teardown, ${t.buildSeconds} s builds`,
    measured: `${s(t.readyMs / 1000)} vs critical path ${s(t.criticalPathMs / 1000)} (${t.chain.join(' → ')}: ${t.hops} hops) = +${ms(t.overheadPerHopMs)} per hop; setup → first build ${ms(t.firstHopMs)}, build finished → next build created ${ms(t.betweenBuildsMs)}, last build → recorded ${ms(t.tailMs)} (median of ${t.samples.length})`,
    goal: '≤ path + 1 s/hop',
    met: t.readyMs <= t.criticalPathMs + 1000 * t.hops,
  });

  const l = r.layerReuse;
  out.push(
    l.measured
      ? {
          figure: `8 Key change with the layer cache, ${l.layerSeconds} s expensive layer`,
          measured: `rebuild ${s(l.rebuildSeconds)} vs cold ${s(l.coldSeconds)} = ${round(l.ratio * 100, 1)} % (${l.rebuild.cached} of ${l.rebuild.cached + l.rebuild.built} layers cached, ${s(l.rebuild.builtSeconds)} built; fresh worker: engine images and build cache removed; ${l.engine})`,
          goal: '≤ 10 % of cold',
          met: l.ratio <= 0.1 && l.rebuild.cacheImport === 'used',
        }
      : {
          figure: '8 Key change with the layer cache',
          measured: `not measured: ${l.reason}`,
          goal: '≤ 10 % of cold',
          met: false,
        },
  );

  if (r.convergence) {
    const v = r.convergence;
    out.push({
      figure: `Convergence, ${v.cycles} cycles, ${v.failureRate * 100}% faults`,
      measured: `${v.violations.length} violations in ${s(v.seconds)}; ${v.standInCalls} stand-in calls (${v.failedBeforeActing} failed before acting, ${lostAnswers(v.answersLost)}), ${v.builds} builds (${v.failedBuilds} failed), ${v.notifications} notifications, ${v.malformed} malformed messages`,
      goal: '0 violations',
      met: v.violations.length === 0,
    });
  }
  return out;
}

function lostAnswers(byMethod: Record<string, number> | undefined): string {
  const entries = Object.entries(byMethod ?? {});
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return `${total} answers lost${entries.length > 0 ? `: ${entries.map(([m, n]) => `${m} ${n}`).join(', ')}` : ''}`;
}

export function renderTable(r: BenchResults): string {
  const table = rows(r);
  const header: Row = {figure: 'Figure', measured: 'Measured', goal: 'Goal'};
  const width = (f: (row: Row) => string) =>
    Math.max(...[header, ...table].map(row => [...f(row)].length));
  const w = {
    figure: width(row => row.figure),
    measured: width(row => row.measured),
    goal: width(row => row.goal),
  };
  const pad = (text: string, n: number) =>
    text + ' '.repeat(Math.max(0, n - [...text].length));
  const line = (row: Row, mark: string) =>
    `| ${pad(row.figure, w.figure)} | ${pad(row.measured, w.measured)} | ${pad(row.goal, w.goal)} | ${mark} |`;
  const rule = `|${'-'.repeat(w.figure + 2)}|${'-'.repeat(w.measured + 2)}|${'-'.repeat(w.goal + 2)}|----|`;
  const lines = [
    `${r.command} — ${r.date} — ${r.machine.cpus} CPUs, Node ${r.machine.node}, ${round(r.durationSeconds, 0)} s`,
    '',
    line(header, 'ok'),
    rule,
    ...table.map(row =>
      line(row, row.met === undefined ? '  ' : row.met ? 'ok' : 'NO'),
    ),
  ];
  if (r.convergence?.violations.length) {
    lines.push('', 'Convergence violations:');
    for (const v of r.convergence.violations) lines.push(`- ${v}`);
  }
  return lines.join('\n');
}
