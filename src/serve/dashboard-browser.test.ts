/**
 * The dashboard in headless Chromium: a finished run's charts drawn with data, a sample opened,
 * five blind pairs labelled with the keyboard and found in SQLite with the agreement figure
 * updated, and a training run's charts growing without a reload. Screenshots go to
 * $RLAIF_SCREENSHOTS (default: a temp folder) so a person can look at the pages.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { projectRoot } from '../util/paths.ts';
import { makeRng } from '../util/rng.ts';
import { writeFixtureRun, ppoMetrics } from './dashboard-fixture.ts';
import { startDashboard, type DashboardServer } from './dashboard-server.ts';

const chromiumPath = process.env.RLAIF_CHROMIUM ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) {
  console.warn(
    `dashboard browser tests skipped: no Chromium at ${chromiumPath} (apt-get install chromium)`,
  );
}

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** RGB of the first series colour in web/src/components/metric-chart.tsx. */
const firstSeriesRgb = [0x25, 0x63, 0xeb];

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  let scratch: string;
  let shots: string;
  let runsDir: string;
  let server: DashboardServer;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'rlaif-dashboard-'));
    shots = process.env.RLAIF_SCREENSHOTS ?? join(scratch, 'screenshots');
    mkdirSync(shots, { recursive: true });
    runsDir = join(scratch, 'runs');

    // Build the current front end into the scratch folder, not over web/dist.
    const webDir = join(scratch, 'web-dist');
    await build({
      configFile: join(projectRoot, 'web', 'vite.config.ts'),
      logLevel: 'error',
      build: { outDir: webDir, emptyOutDir: true },
    });

    writeFixtureRun({ runsDir, name: 'finished' });
    writeFixtureRun({
      runsDir,
      name: 'training',
      ppoSteps: 12,
      seed: 11,
      startTime: Date.now() - 60_000,
    });
    server = await startDashboard({ runsDir, webDir, rng: makeRng(3) });

    context = await chromium.launchPersistentContext(join(scratch, 'profile'), {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumArgs,
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    // Screenshots asked for with RLAIF_SCREENSHOTS live outside the scratch folder and stay.
    if (scratch) rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  });

  it('binds to loopback by default', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("lists the runs and draws a finished run's charts with its data", async () => {
    await page.goto(server.url);
    await page.locator('table.runs a', { hasText: 'finished' }).waitFor();
    await page.screenshot({ path: join(shots, '1-run-list.png') });

    const api = (await (await fetch(`${server.url}/api/runs/finished/metrics?since=0`)).json()) as {
      records: Record<string, unknown>[];
    };
    const rewardPoints = api.records.filter((r) => typeof r['reward/mean'] === 'number').length;
    expect(rewardPoints).toBe(40);

    await page.click('table.runs a:text("finished")');
    const reward = page.locator(`[data-chart="Reward"][data-points="${rewardPoints}"] canvas`);
    await reward.waitFor();
    await page.locator('[data-chart="KL to reference"][data-points="40"] canvas').waitFor();
    await page.locator('[data-chart="Win rate"][data-points="4"] canvas').waitFor();
    expect(await seriesPixels(page, 'Reward')).toBeGreaterThan(200);
    expect(await seriesPixels(page, 'Clip fraction')).toBeGreaterThan(200);
    await page.screenshot({ path: join(shots, '2-metrics.png'), fullPage: true });
  });

  it('opens a sample with its verdict', async () => {
    await page.click('nav.tabs a:text("Samples")');
    // The fourth prompt's verdict flipped when the responses swapped places.
    await page.locator('.browser-list li a').nth(3).click();
    const detail = page.locator('.pair-detail');
    await detail.waitFor();
    const index = Number(await detail.getAttribute('data-sample'));
    const group = (await (
      await fetch(`${server.url}/api/runs/finished/samples/${index}`)
    ).json()) as {
      prompt: string;
      responses: { text: string }[];
      verdicts: { principle: string; pChosen: number; consistent: boolean; perOrder: number[] }[];
    };
    expect(group.verdicts[0].consistent).toBe(false);
    // The samples come from the run store (two per prompt), each with its verdict.
    expect(group.responses).toHaveLength(2);
    await expect.poll(() => detail.locator('.prompt p').textContent()).toBe(group.prompt);
    expect(await detail.locator('.response p').allTextContents()).toEqual(
      group.responses.map((r) => r.text),
    );
    expect(await detail.locator('table.verdicts').textContent()).toContain(
      group.verdicts[0].principle,
    );
    expect(await detail.locator('table.verdicts').textContent()).toContain(
      group.verdicts[0].pChosen.toFixed(3),
    );
    expect(await detail.locator('.per-order').textContent()).toContain(
      group.verdicts[0].perOrder[1].toFixed(2),
    );
    await page.screenshot({ path: join(shots, '3-sample.png'), fullPage: true });

    await page.click('nav.tabs a:text("Preferences")');
    await page.selectOption('select[name="consistency"]', 'inconsistent');
    await expect.poll(() => page.locator('table.prefs tbody tr').count()).toBe(3);
    await page.locator('table.prefs tbody tr').first().click();
    await page.locator('.selected-pair .pair-detail').waitFor();
    await page.screenshot({ path: join(shots, '4-preferences.png'), fullPage: true });

    await page.click('nav.tabs a:text("Judge audits")');
    await page.locator('.audits h3', { hasText: 'audit.json' }).waitFor();
    const auditRows = page.locator('[data-audit-report] tbody tr');
    expect(await auditRows.count()).toBe(2);
    expect(await auditRows.first().textContent()).toContain('63.0%');
    await page.locator('.audits h3', { hasText: 'audits/principles.json' }).waitFor();
    await page.screenshot({ path: join(shots, '5-audits.png'), fullPage: true });
  });

  it('labels five pairs with the keyboard and stores them by identity', async () => {
    await page.click('nav.tabs a:text("Blind comparison")');
    await page.locator('[data-stat="agreement"][data-labels="0"]').waitFor();

    const keys = ['1', 'ArrowRight', '2', 'ArrowLeft', '0'];
    const expected: { prompt: string; winnerText: string | null }[] = [];
    let previous = '';
    for (const key of keys) {
      const blind = page.locator('.blind');
      await expect.poll(() => blind.getAttribute('data-presentation')).not.toBe(previous);
      previous = (await blind.getAttribute('data-presentation')) ?? '';
      const prompt = (await blind.locator('.prompt p').textContent()) ?? '';
      const left = (await blind.locator('[data-side="left"] p').textContent()) ?? '';
      const right = (await blind.locator('[data-side="right"] p').textContent()) ?? '';
      if (expected.length === 2)
        await page.screenshot({ path: join(shots, '6-compare.png'), fullPage: true });
      const side = key === '1' || key === 'ArrowLeft' ? left : key === '0' ? null : right;
      expected.push({ prompt, winnerText: side });
      await page.keyboard.press(key);
    }
    await page.locator('[data-stat="agreement"][data-labels="5"]').waitFor();
    await page.screenshot({ path: join(shots, '7-compare-after.png'), fullPage: true });

    // The five labels are in the run's store, with the winner named by identity.
    const db = new Database(join(runsDir, 'finished', 'store.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT * FROM human_labels ORDER BY id').all() as {
      prompt: string;
      response_a: string;
      response_b: string;
      winner: string;
      ai_prob_a: number;
    }[];
    db.close();
    expect(rows).toHaveLength(5);
    rows.forEach((row, i) => {
      expect(row.prompt).toBe(expected[i].prompt);
      const winnerText =
        row.winner === 'a' ? row.response_a : row.winner === 'b' ? row.response_b : null;
      expect(winnerText).toBe(expected[i].winnerText);
    });

    // Agreement on the page and from the API equals the count from the stored rows.
    const decided = rows.filter((r) => r.winner !== 'tie');
    const agree = decided.filter((r) => (r.ai_prob_a > 0.5 ? 'a' : 'b') === r.winner).length;
    const stat = page.locator('[data-stat="agreement"]');
    expect(await stat.getAttribute('data-n')).toBe(String(decided.length));
    expect(await stat.locator('.big').textContent()).toBe(
      `${((100 * agree) / decided.length).toFixed(1)}%`,
    );
    const labels = (await (await fetch(`${server.url}/api/runs/finished/labels`)).json()) as {
      agreement: { n: number; agree: number; interval: { low: number; high: number } };
    };
    expect(labels.agreement.n).toBe(4);
    expect(labels.agreement.agree).toBe(agree);
    expect(labels.agreement.interval.low).toBeLessThan(agree / 4);

    // Pairs of the final and the start policy: two labels give a blind win rate.
    await page.fill('.compare-bar input', 'ana');
    await page.locator('.compare-bar input').press('Enter');
    await page.selectOption('.compare-bar select', 'policy');
    await expect.poll(() => page.locator('.compare-bar').textContent()).toContain('8 of 8');
    for (const key of ['ArrowLeft', 'ArrowRight']) {
      const shown = await page.locator('.blind').getAttribute('data-presentation');
      await page.keyboard.press(key);
      await expect
        .poll(() => page.locator('.blind').getAttribute('data-presentation'))
        .not.toBe(shown);
    }
    const winRate = page.locator('[data-stat="win-rate"]');
    await winRate.waitFor();
    expect(await winRate.textContent()).toContain('final over start');
    // The page moves on to the next pair while the last label is still being posted, so the
    // store is polled until both labels are in.
    const readPolicyLabels = (): unknown[] => {
      const reopened = new Database(join(runsDir, 'finished', 'store.sqlite'), { readonly: true });
      const rows = reopened
        .prepare("SELECT labeler, source_a FROM human_labels WHERE kind = 'policy' ORDER BY rowid")
        .all();
      reopened.close();
      return rows;
    };
    await expect.poll(() => readPolicyLabels().length).toBe(2);
    expect(readPolicyLabels()).toEqual([
      { labeler: 'ana', source_a: 'final' },
      { labeler: 'ana', source_a: 'final' },
    ]);
    await page.screenshot({ path: join(shots, '7b-compare-policy.png'), fullPage: true });
  });

  it('shows new points of a training run without a reload', async () => {
    await page.goto(`${server.url}/#/runs/training/metrics`);
    await page.locator('[data-chart="Reward"][data-points="12"] canvas').waitFor();
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

    const file = join(runsDir, 'training', 'metrics.jsonl');
    const rng = makeRng(5);
    for (let step = 13; step <= 20; step++) {
      appendFileSync(file, JSON.stringify(ppoMetrics(step, Date.now(), rng.next())) + '\n');
    }
    // A line still being written must not break the poll; it completes below.
    const torn = JSON.stringify(ppoMetrics(21, Date.now(), rng.next()));
    appendFileSync(file, torn.slice(0, 20));
    await page
      .locator('[data-chart="Reward"][data-points="20"] canvas')
      .waitFor({ timeout: 15_000 });
    appendFileSync(file, torn.slice(20) + '\n');
    await page
      .locator('[data-chart="Reward"][data-points="21"] canvas')
      .waitFor({ timeout: 15_000 });

    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(
      true,
    );
    await page.locator('.chip.live').waitFor();
    await page.screenshot({ path: join(shots, '8-training.png'), fullPage: true });
  });
});

/** Pixels of the first series colour on a chart's canvas: zero if no line was drawn. */
async function seriesPixels(page: Page, chart: string): Promise<number> {
  return page.evaluate(
    ([title, rgb]) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`[data-chart="${title}"] canvas`);
      const context = canvas?.getContext('2d');
      if (!canvas || !context) return 0;
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        const near =
          Math.abs(data[i] - rgb[0]) +
          Math.abs(data[i + 1] - rgb[1]) +
          Math.abs(data[i + 2] - rgb[2]);
        if (near < 60 && data[i + 3] > 200) count++;
      }
      return count;
    },
    [chart, firstSeriesRgb] as const,
  );
}
