/**
 * The run report: one self-contained HTML file (no network: uPlot's script and styles are
 * inlined from node_modules) with the evaluation figures and alarms, training curves (reward,
 * KL, entropy, length, reward-model accuracy), the win rates with their intervals, and samples
 * of the starting and final policies side by side with the judges' principle and rationale.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import type { MetricsRecord } from '../util/metrics.ts';
import type { EvaluationSummary } from './evaluate.ts';

export interface ReportSample {
  prompt: string;
  start: string;
  final: string;
  /** P(final better) by the held-out evaluator and by the training judge. */
  evaluatorP?: number;
  judgeP?: number;
  principle?: string;
  rationale?: string;
}

export interface ReportPreference {
  prompt: string;
  chosen: string;
  rejected: string;
  pChosen: number;
  principle?: string;
  rationale?: string;
  consistent?: boolean;
  /** The run's prompt and the two sample indices in the order the judge saw them (A, B). */
  promptIndex?: number;
  pair?: [number, number];
  /** The judge saw `chosen` as A; inferred from `pair` when absent. */
  aIsChosen?: boolean;
}

export interface ReportInput {
  title: string;
  /** When the run finished (ISO string), injected for reproducible output. */
  finishedAt: string;
  /** A few config lines shown at the top (algorithm, model, judge...). */
  settings: Record<string, string | number>;
  summary?: EvaluationSummary;
  metrics: MetricsRecord[];
  samples: ReportSample[];
  preferences: ReportPreference[];
  /** Seconds per stage. */
  stageSeconds?: Record<string, number>;
  /** Preferences shown: one pair per opening, most and least confident in turn. Default 10. */
  shownPreferences?: number;
}

/** One chart: a title and the metric names drawn on it (first stage that has them). */
const charts: { title: string; series: string[]; stages: string[] }[] = [
  { title: 'Reward (score, and with the KL penalty)', series: ['score/mean', 'reward/mean'], stages: ['ppo', 'rloo', 'grpo', 'reinforce', 'direct', 'online-dpo'] },
  { title: 'KL to the reference (nats per response)', series: ['objective/kl'], stages: ['ppo', 'rloo', 'grpo', 'reinforce', 'direct'] },
  { title: 'Entropy (nats per response)', series: ['objective/entropy'], stages: ['ppo', 'rloo', 'grpo', 'reinforce', 'direct'] },
  { title: 'Response length (tokens)', series: ['len/mean'], stages: ['ppo', 'rloo', 'grpo', 'reinforce', 'direct'] },
  { title: 'Reward model', series: ['rm/accuracy', 'rm/loss', 'rm/val_accuracy'], stages: ['reward-model', 'rm'] },
  { title: 'DPO (loss, implicit reward margin and accuracy)', series: ['loss/total', 'reward/margin', 'reward/accuracy'], stages: ['dpo'] },
];

const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

export function renderReport(input: ReportInput): string {
  const chartData = charts
    .map((chart) => ({ title: chart.title, ...seriesOf(input.metrics, chart.stages, chart.series) }))
    .filter((chart) => chart.names.length > 0);

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${uplotCss()}
${pageCss}</style></head>
<body>
<header><h1>${escapeHtml(input.title)}</h1>
<p class="muted">finished ${escapeHtml(input.finishedAt)} · ${Object.entries(input.settings)
    .map(([k, v]) => `${escapeHtml(k)}: <b>${escapeHtml(String(v))}</b>`).join(' · ')}</p></header>
${input.summary ? summarySection(input.summary) : '<p>No evaluation yet.</p>'}
${input.stageSeconds ? stagesSection(input.stageSeconds) : ''}
<section><h2>Training curves</h2>
${chartData.length ? '<div class="charts" id="charts"></div>' : '<p class="muted">No training metrics recorded.</p>'}
</section>
${samplesSection(input.samples)}
${preferencesSection(selectPreferences(input.preferences, input.shownPreferences ?? 10))}
<script>${uplotJs()}</script>
<script>
const chartData = ${safeJson(chartData)};
const palette = ${JSON.stringify(palette)};
const host = document.getElementById('charts');
for (const chart of chartData) {
  const box = document.createElement('div');
  box.className = 'chart';
  host.appendChild(box);
  const width = Math.min(560, Math.max(320, (host.clientWidth - 24) / 2));
  new uPlot({
    title: chart.title, width, height: 240,
    scales: { x: { time: false } },
    axes: [{ label: 'step' }, {}],
    // Names only: a live legend shows '--' until the pointer is over the chart.
    legend: { live: false },
    series: [{ label: 'step' }].concat(chart.names.map((name, i) => ({
      label: name, stroke: palette[i % palette.length], width: 2, spanGaps: true,
      // A sparse series (a validation figure per epoch) shows its points, not only a line.
      points: chart.sparse[i] ? { show: true, size: 7, fill: palette[i % palette.length] } : { size: 4 },
    }))),
  }, [chart.steps].concat(chart.values), box);
}
</script>
</body></html>
`;
}

function seriesOf(metrics: MetricsRecord[], stages: string[], names: string[]) {
  const stage = stages.find((s) => metrics.some((m) => m.stage === s && names.some((n) => n in m)));
  if (!stage) {
    const none: { steps: number[]; names: string[]; values: (number | null)[][]; sparse: boolean[] } =
      { steps: [], names: [], values: [], sparse: [] };
    return none;
  }
  // One step may have several lines (training figures, then validation figures at the end of
  // an epoch), and a resumed run may write a step twice: merge them, the last value winning.
  const byStep = new Map<number, MetricsRecord>();
  for (const m of metrics) {
    if (m.stage === stage) byStep.set(m.step, { ...byStep.get(m.step), ...m });
  }
  const rows = [...byStep.values()].sort((a, b) => a.step - b.step);
  const present = names.filter((n) => rows.some((r) => typeof r[n] === 'number'));
  const values = present.map((n) => rows.map((r) => (typeof r[n] === 'number' ? (r[n] as number) : null)));
  return {
    steps: rows.map((r) => r.step),
    names: present,
    values,
    sparse: values.map((v) => v.filter((x) => x !== null).length * 4 <= rows.length),
  };
}

function summarySection(s: EvaluationSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const d = s.diversity;
  const rows: [string, string, string][] = [
    ['Held-out evaluator win rate', `${pct(s.evaluator.rate)} <span class="muted">(95% CI ${pct(s.evaluator.low)}–${pct(s.evaluator.high)}; ${s.evaluator.wins}/${s.evaluator.ties}/${s.evaluator.losses} win/tie/loss of ${s.evaluator.n})</span>`, 'final policy vs start on held-out prompts, both orders'],
    ['Training judge win rate', `${pct(s.trainingJudge.rate)} <span class="muted">(95% CI ${pct(s.trainingJudge.low)}–${pct(s.trainingJudge.high)})</span>`, 'the judge the policy was trained against'],
    [
      'Judge − evaluator gap',
      `${(s.judgeEvaluatorGap * 100).toFixed(1)} points`,
      'training judge minus held-out evaluator; above +15 points it is a reward-hacking signal',
    ],
    ['KL to reference', `${s.kl.mean.toFixed(2)} nats <span class="muted">(max ${s.kl.max.toFixed(2)}, target ≤ ${s.kl.target})</span>`, 'per response, temperature-1 samples'],
    ['distinct-1 / distinct-2', `${d.start.distinct1.toFixed(3)} / ${d.start.distinct2.toFixed(3)} → ${d.final.distinct1.toFixed(3)} / ${d.final.distinct2.toFixed(3)}`, 'start → final'],
    ['Self-similarity', `${d.start.selfSimilarity.toFixed(3)} → ${d.final.selfSimilarity.toFixed(3)}`, 'mean pairwise bigram Jaccard; rising: collapse'],
    ['Mean length (words)', `${d.start.meanWords.toFixed(1)} → ${d.final.meanWords.toFixed(1)} <span class="muted">(×${s.lengthRatio.toFixed(2)})</span>`, 'length bias'],
  ];
  if (s.evaluatorConsistency !== undefined) {
    rows.push(['Evaluator order consistency', pct(s.evaluatorConsistency), 'both orders agreed']);
  }
  const alarms = s.alarms.length
    ? `<ul class="alarms">${s.alarms.map((a) => `<li>${escapeHtml(a)}</li>`).join('')}</ul>`
    : '<p class="ok">No alarms: no collapse, KL within its target, no large judge–evaluator gap.</p>';
  return `<section><h2>Result <span class="badge ${s.success ? 'good' : 'bad'}">${s.success ? 'success' : 'below target'}</span></h2>
<table class="figures">${rows.map(([k, v, note]) => `<tr><th>${k}</th><td>${v}</td><td class="muted">${note}</td></tr>`).join('')}</table>
${winRateBars(s)}
${alarms}</section>`;
}

/** Two horizontal bars with their 95% intervals, drawn as inline SVG. */
function winRateBars(s: EvaluationSummary): string {
  const bars = [
    { label: 'held-out evaluator', w: s.evaluator, color: palette[0] },
    { label: 'training judge', w: s.trainingJudge, color: palette[1] },
  ];
  const x = (v: number) => 150 + v * 400;
  return `<svg class="bars" viewBox="0 0 580 96" width="580" height="96" role="img" aria-label="win rates">
${bars.map((b, i) => {
    const y = 10 + i * 36;
    return `<text x="0" y="${y + 16}" font-size="13">${b.label}</text>
<rect x="150" y="${y}" width="${(b.w.rate * 400).toFixed(1)}" height="22" fill="${b.color}" opacity="0.75"/>
<line x1="${x(b.w.low).toFixed(1)}" x2="${x(b.w.high).toFixed(1)}" y1="${y + 11}" y2="${y + 11}" stroke="#111" stroke-width="2"/>
<line x1="${x(b.w.low).toFixed(1)}" x2="${x(b.w.low).toFixed(1)}" y1="${y + 5}" y2="${y + 17}" stroke="#111" stroke-width="2"/>
<line x1="${x(b.w.high).toFixed(1)}" x2="${x(b.w.high).toFixed(1)}" y1="${y + 5}" y2="${y + 17}" stroke="#111" stroke-width="2"/>
<text x="${Math.min(x(b.w.high) + 6, 540).toFixed(1)}" y="${y + 16}" font-size="12">${(b.w.rate * 100).toFixed(0)}%</text>`;
  }).join('\n')}
<line x1="${x(0.5)}" x2="${x(0.5)}" y1="4" y2="84" stroke="#888" stroke-dasharray="4 3"/>
<text x="${x(0.5) - 8}" y="94" font-size="10" fill="#666">50%</text>
</svg>`;
}

function stagesSection(seconds: Record<string, number>): string {
  const total = Object.values(seconds).reduce((a, b) => a + b, 0);
  return `<section><h2>Stages</h2><p>${Object.entries(seconds)
    .map(([k, v]) => `${escapeHtml(k)} <b>${v.toFixed(1)} s</b>`).join(' · ')} · total <b>${total.toFixed(1)} s</b></p></section>`;
}

function samplesSection(samples: ReportSample[]): string {
  if (samples.length === 0) return '';
  const p = (x?: number) => (x === undefined ? '–' : `${(x * 100).toFixed(0)}%`);
  return `<section><h2>Held-out samples: start and final policy</h2>
<p class="muted">P(final better) by the held-out evaluator and by the training judge, each asked in both orders. In the training judge's rationale, A is the final policy's response and B the starting policy's.</p>
<table class="samples"><thead><tr><th>Opening</th><th>Starting policy</th><th>Final policy</th><th>Verdicts</th></tr></thead><tbody>
${samples.map((s) => `<tr><td class="prompt">${escapeHtml(s.prompt)}</td><td>${escapeHtml(s.start)}</td><td>${escapeHtml(s.final)}</td>
<td class="verdict">evaluator <b>${p(s.evaluatorP)}</b><br>judge <b>${p(s.judgeP)}</b>${s.principle ? `<br><span class="principle">${escapeHtml(principleLabel(s.principle))}</span>` : ''}${rationaleHtml(s.rationale)}</td></tr>`).join('\n')}
</tbody></table></section>`;
}

/**
 * A varied handful: one pair per opening (openings in order), taking the most and the least
 * confident verdict in turn, then more pairs per opening if there are few openings.
 */
export function selectPreferences(preferences: ReportPreference[], count: number): ReportPreference[] {
  const keyed = withJudgeOrder(preferences);
  const byOpening = new Map<string, ReportPreference[]>();
  for (const p of keyed) byOpening.set(p.prompt, [...(byOpening.get(p.prompt) ?? []), p]);
  const queues = [...byOpening.values()].map((group) => [...group].sort((a, b) => b.pChosen - a.pChosen));
  const chosen: ReportPreference[] = [];
  for (let round = 0; chosen.length < count && queues.some((q) => q.length > 0); round += 1) {
    for (const [i, queue] of queues.entries()) {
      if (chosen.length >= count || queue.length === 0) continue;
      chosen.push((i + round) % 2 === 0 ? queue.shift()! : queue.pop()!);
    }
  }
  return chosen;
}

/**
 * Which side the judge saw as A. A pair is (sample i, sample j) of one prompt, shown as A = i;
 * a sample's text is the one every pair holding it shares, which tells whether A was chosen.
 */
function withJudgeOrder(preferences: ReportPreference[]): ReportPreference[] {
  const texts = new Map<string, Set<string> | undefined>();
  for (const p of preferences) {
    if (p.pair === undefined || p.promptIndex === undefined) continue;
    for (const sample of p.pair) {
      const key = `${p.promptIndex}:${sample}`;
      const both = new Set([p.chosen, p.rejected]);
      const known = texts.get(key);
      texts.set(key, known ? new Set([...known].filter((t) => both.has(t))) : both);
    }
  }
  return preferences.map((p) => {
    if (p.aIsChosen !== undefined || p.pair === undefined || p.promptIndex === undefined) return p;
    const a = texts.get(`${p.promptIndex}:${p.pair[0]}`);
    const b = texts.get(`${p.promptIndex}:${p.pair[1]}`);
    if (a?.size === 1 && a.has(p.chosen)) return { ...p, aIsChosen: true };
    if (a?.size === 1 && a.has(p.rejected)) return { ...p, aIsChosen: false };
    if (b?.size === 1 && b.has(p.chosen)) return { ...p, aIsChosen: false };
    if (b?.size === 1 && b.has(p.rejected)) return { ...p, aIsChosen: true };
    return p;
  });
}

function judgeOrderKey(p: ReportPreference): string {
  if (!p.rationale) return '';
  if (p.aIsChosen === undefined) {
    return '<div class="key">in the rationale, A and B are the order the judge saw</div>';
  }
  const [a, b] = p.aIsChosen ? ['chosen', 'rejected'] : ['rejected', 'chosen'];
  return `<div class="key">in the rationale: <b>A = ${a}</b>, B = ${b}</div>`;
}

function preferencesSection(preferences: ReportPreference[]): string {
  if (preferences.length === 0) return '';
  return `<section><h2>Preferences from the AI judge</h2>
<p class="muted">A selection: one pair per opening, the judge's most and least confident verdicts in turn.</p>
<table class="samples"><thead><tr><th>Opening</th><th>Chosen</th><th>Rejected</th><th>Judge</th></tr></thead><tbody>
${preferences.map((r) => `<tr><td class="prompt">${escapeHtml(r.prompt)}</td><td>${escapeHtml(r.chosen)}</td><td>${escapeHtml(r.rejected)}</td>
<td class="verdict">p(chosen) <b>${(r.pChosen * 100).toFixed(0)}%</b>${r.consistent === false ? ' <span class="warn">orders disagree</span>' : ''}${r.principle ? `<br><span class="principle">${escapeHtml(principleLabel(r.principle))}</span>` : ''}${judgeOrderKey(r)}${rationaleHtml(r.rationale)}</td></tr>`).join('\n')}
</tbody></table></section>`;
}

function principleLabel(principle: string): string {
  return principle === 'all' ? 'all principles' : principle;
}

/** The judge's rationale: one line shown, the rest folded (an 'all principles' one is long). */
function rationaleHtml(rationale?: string): string {
  if (!rationale) return '';
  const parts = rationale.split('; ');
  if (parts.length <= 1) return `<div class="rationale">${escapeHtml(rationale)}</div>`;
  return `<details class="rationale"><summary>${escapeHtml(parts[0])}</summary>${parts.slice(1)
    .map((p) => `<div>${escapeHtml(p)}</div>`).join('')}</details>`;
}

const pageCss = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #111; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.muted { color: #6b7280; } .ok { color: #15803d; } .warn { color: #b45309; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; vertical-align: middle; }
.badge.good { background: #dcfce7; color: #166534; } .badge.bad { background: #fee2e2; color: #991b1b; }
table.figures th { text-align: left; padding: 3px 16px 3px 0; white-space: nowrap; font-weight: 600; }
table.figures td { padding: 3px 16px 3px 0; }
ul.alarms { color: #991b1b; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
table.samples { border-collapse: collapse; width: 100%; }
table.samples th, table.samples td { border: 1px solid #e5e7eb; padding: 6px 8px; vertical-align: top; text-align: left; }
table.samples th { background: #f9fafb; }
td.prompt { width: 16%; font-weight: 500; } td.verdict { width: 26%; font-size: 12px; }
summary { cursor: pointer; }
.principle { display: inline-block; margin-top: 4px; background: #eef2ff; color: #3730a3; padding: 1px 6px; border-radius: 8px; }
.rationale { color: #4b5563; margin-top: 4px; }
.key { margin-top: 4px; color: #374151; }
svg.bars { margin: 12px 0; }
`;

const require = createRequire(import.meta.url);

function uplotDir(): string {
  return dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

function uplotJs(): string {
  return readFileSync(join(uplotDir(), 'uPlot.iife.min.js'), 'utf8').replace(/<\/script/gi, '<\\/script');
}

function uplotCss(): string {
  return readFileSync(join(uplotDir(), 'uPlot.min.css'), 'utf8');
}

/** JSON safe to place inside a <script> element. */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
