import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { auth, createTestApp, type TestApp } from '../helpers/app.js';
import { launchBrowser } from '../helpers/browser.js';
import { testEngines } from '../helpers/engines.js';

// The real app on a database seeded from the sample historic files.
const root = fileURLToPath(new URL('../../', import.meta.url));

interface QuarterRow {
  department: string;
  job: string;
  Q1: number;
  Q2: number;
  Q3: number;
  Q4: number;
}
interface AboveMean {
  year: number;
  mean: number;
  rows: { id: number; department: string; hired: number }[];
}

const requests: string[] = [];
const pageErrors: string[] = [];
let t: TestApp;
let baseUrl: string;
let browser: Browser;
let page: Page;

async function api<T>(url: string): Promise<T> {
  const res = await t.app.inject(url);
  expect(res.statusCode).toBe(200);
  return res.json() as T;
}
const quarterRows = async (year: number) =>
  (await api<{ rows: QuarterRow[] }>(`/hired_by_quarter/${year}`)).rows;
const aboveMean = (year: number) => api<AboveMean>(`/departments_above_mean/${year}`);

beforeAll(async () => {
  t = await createTestApp(testEngines()[0], { withSamples: true });
  t.app.addHook('onRequest', async (request) => {
    requests.push(request.url);
    // A fault injected for one year, to see how the page shows an API error.
    if (request.url === '/hired_by_quarter/2013') {
      throw new AppError('database_unavailable', 'The database is not reachable right now.');
    }
  });
  for (const table of ['departments', 'jobs', 'hired_employees']) {
    const res = await t.app.inject({ method: 'POST', url: `/load_historic_data/${table}`, headers: auth });
    expect(res.statusCode).toBe(200);
  }
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/`;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of [45]\d\d/.test(msg.text())) pageErrors.push(msg.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

beforeEach(() => {
  requests.length = 0;
  pageErrors.length = 0;
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

interface ChartSummary {
  type: string;
  labels: string[];
  datasets: { type: string; label: string; data: number[] }[];
  stacked: boolean;
  painted: number;
}

async function waitForState(state: 'ready' | 'error') {
  await page.waitForFunction((s) => (globalThis as any).document.body.dataset.state === s, state, {
    timeout: 10_000,
  });
}

// tsconfig has no DOM lib (a Node project), so functions that run in the page reach it through an
// untyped globalThis; they are serialised, so they cannot use anything from this module.

/** What Chart.js holds for a canvas: dataset types and sizes, or null if no chart is bound to it. */
function chartOf(id: string): Promise<ChartSummary | null> {
  return page.evaluate((canvasId) => {
    const canvas = (globalThis as any).document.getElementById(canvasId);
    const chart = (globalThis as any).Chart.getChart(canvas);
    if (!chart) return null;
    // A drawn canvas has non-blank pixels.
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
    return {
      type: chart.config.type,
      labels: chart.data.labels,
      datasets: chart.data.datasets.map((d: any) => ({
        type: d.type ?? chart.config.type,
        label: d.label,
        data: d.data,
      })),
      stacked: chart.options.scales?.x?.stacked === true && chart.options.scales?.y?.stacked === true,
      painted,
    };
  }, id);
}

async function tableRows() {
  return page.$$eval('#hires-table tbody tr', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent)),
  );
}

describe('dashboard page', () => {
  it('renders 2021 by default: charts, table and departments above the mean', async () => {
    await page.goto(baseUrl);
    await waitForState('ready');
    expect(await page.inputValue('#year')).toBe('2021');
    expect(requests).toEqual(
      expect.arrayContaining(['/hired_by_quarter/2021', '/departments_above_mean/2021']),
    );

    const rows = await quarterRows(2021);
    const departments = [...new Set(rows.map((r) => r.department))];
    expect(departments).toHaveLength(12);
    const quarter = await chartOf('quarter-chart');
    expect(quarter).not.toBeNull();
    expect(quarter!.labels).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    expect(quarter!.stacked).toBe(true);
    expect(quarter!.datasets.map((d) => d.label)).toEqual(departments);
    expect(quarter!.painted).toBeGreaterThan(1000);
    const sales = rows.filter((r) => r.department === 'Sales');
    expect(sales.length).toBeGreaterThan(0);
    expect(quarter!.datasets.find((d) => d.label === 'Sales')!.data).toEqual(
      (['Q1', 'Q2', 'Q3', 'Q4'] as const).map((q) => sales.reduce((a, r) => a + r[q], 0)),
    );

    const expected = await aboveMean(2021);
    const mean = await chartOf('mean-chart');
    expect(mean!.labels).toEqual(departments);
    expect(mean!.datasets.map((d) => d.type)).toEqual(['bar', 'line']);
    expect(mean!.datasets[1].data).toEqual(departments.map(() => expected.mean));
    expect(mean!.painted).toBeGreaterThan(1000);

    const table = await tableRows();
    expect(table).toHaveLength(rows.length);
    expect(table[0]).toEqual([
      rows[0].department,
      rows[0].job,
      ...[rows[0].Q1, rows[0].Q2, rows[0].Q3, rows[0].Q4].map(String),
    ]);

    const above = await page.$$eval('#above-mean li', (lis) =>
      lis.map((li) => li.querySelector('.name')!.textContent),
    );
    expect(above).toEqual(expected.rows.map((r) => r.department));
    expect(expected.rows.length).toBeGreaterThan(0);
    expect(await page.textContent('#mean-value')).toBe(String(expected.mean));
    expect(await page.isHidden('#error')).toBe(true);

    await mkdir(root + 'test-artifacts', { recursive: true });
    await page.screenshot({ path: root + 'test-artifacts/dashboard.png', fullPage: true });
  });

  it('refetches when the year changes', async () => {
    await page.goto(baseUrl);
    await waitForState('ready');
    requests.length = 0;
    await page.fill('#year', '2022');
    await page.click('#show');
    await waitForState('ready');
    expect(requests.filter((r) => r.endsWith('/2022')).sort()).toEqual([
      '/departments_above_mean/2022',
      '/hired_by_quarter/2022',
    ]);
    expect(await tableRows()).toHaveLength((await quarterRows(2022)).length);
    const above = await page.$$eval('#above-mean li', (lis) =>
      lis.map((li) => li.querySelector('.name')!.textContent),
    );
    const expected = await aboveMean(2022);
    expect(above).toEqual(expected.rows.map((r) => r.department));
    expect((await chartOf('mean-chart'))!.datasets[1].data[0]).toBe(expected.mean);
    expect(new URL(page.url()).searchParams.get('year')).toBe('2022');
  });

  it('loads the year given in the address', async () => {
    await page.goto(`${baseUrl}?year=2025`);
    await waitForState('ready');
    expect(await page.inputValue('#year')).toBe('2025');
    expect(requests).toContain('/hired_by_quarter/2025');
  });

  it("shows the API's error message", async () => {
    await page.goto(baseUrl);
    await waitForState('ready');
    await page.fill('#year', '2013');
    await page.press('#year', 'Enter');
    await waitForState('error');
    expect(await page.isVisible('#error')).toBe(true);
    expect(await page.textContent('#error')).toBe('The database is not reachable right now.');
    expect(await page.getAttribute('#error', 'data-code')).toBe('database_unavailable');
    expect(await tableRows()).toHaveLength(0);
    expect(await chartOf('quarter-chart')).toBeNull();
    await page.screenshot({ path: root + 'test-artifacts/dashboard-error.png' });

    // and recovers on the next good year
    await page.fill('#year', '2021');
    await page.click('#show');
    await waitForState('ready');
    expect(await page.isHidden('#error')).toBe(true);
    expect(await tableRows()).toHaveLength((await quarterRows(2021)).length);
  });

  it('rejects a year outside 2000..2030 without asking the server', async () => {
    await page.goto(baseUrl);
    await waitForState('ready');
    requests.length = 0;
    await page.fill('#year', '1999');
    await page.click('#show');
    await waitForState('error');
    expect(await page.textContent('#error')).toBe('Enter a year between 2000 and 2030.');
    expect(requests.filter((r) => r.startsWith('/hired_by_quarter'))).toEqual([]);
  });
});
