import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';

// A stand-in for the app: the page's files, chart.js and two fake JSON endpoints.
const root = fileURLToPath(new URL('../../', import.meta.url));
const files: Record<string, [string, string]> = {
  '/': ['src/web/index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['src/web/dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['src/web/dashboard.css', 'text/css; charset=utf-8'],
  '/assets/chart.umd.js': ['node_modules/chart.js/dist/chart.umd.js', 'text/javascript; charset=utf-8'],
};

const departments = [
  'Business Development',
  'Engineering',
  'Human Resources',
  'Legal',
  'Maintenance',
  'Marketing',
  'Product Management',
  'Research and Development',
  'Sales',
  'Staff',
  'Supply Chain',
  'accounting',
];
const jobs = ['Senior Accountant', 'Data Analyst IV', 'Recruiter', "O'Brien & Co. Liaison"];

/** Fixtures per year: every department hires, some in several jobs. */
function quarterRows(year: number) {
  return departments.flatMap((department, d) =>
    jobs.slice(0, 1 + ((d + year) % jobs.length)).map((job, j) => ({
      department,
      job,
      Q1: (d * 3 + j + year) % 5,
      Q2: (d + j * 2) % 4,
      Q3: (d * 7 + year) % 6,
      Q4: (d + j + 1) % 3,
    })),
  );
}

function aboveMean(year: number) {
  const totals = new Map<string, number>();
  for (const r of quarterRows(year))
    totals.set(r.department, (totals.get(r.department) ?? 0) + r.Q1 + r.Q2 + r.Q3 + r.Q4);
  const mean = [...totals.values()].reduce((a, b) => a + b, 0) / totals.size;
  const rows = [...totals]
    .map(([department, hired]) => ({ id: departments.indexOf(department) + 1, department, hired }))
    .filter((r) => r.hired > mean)
    .sort((a, b) => b.hired - a.hired || a.department.localeCompare(b.department));
  return { year, mean: Math.round(mean * 100) / 100, rows };
}

const requests: string[] = [];
const pageErrors: string[] = [];
let server: Server;
let baseUrl: string;
let browser: Browser;
let page: Page;

function json(res: import('node:http').ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const file = files[path];
    if (file) {
      res.writeHead(200, { 'content-type': file[1] });
      res.end(await readFile(root + file[0]));
      return;
    }
    const m = /^\/(hired_by_quarter|departments_above_mean)\/(\d+)$/.exec(path);
    if (!m) return json(res, 404, { error: { code: 'not_found', message: `no route ${path}` } });
    const year = Number(m[2]);
    if (year === 2013)
      return json(res, 503, {
        error: { code: 'database_unavailable', message: 'The database is not reachable right now.' },
      });
    if (year < 2000 || year > 2030) {
      return json(res, 400, {
        error: { code: 'invalid_year', message: `year must be between 2000 and 2030, got ${year}` },
      });
    }
    if (m[1] === 'hired_by_quarter') return json(res, 200, { year, rows: quarterRows(year) });
    return json(res, 200, aboveMean(year));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of [45]\d\d/.test(msg.text())) pageErrors.push(msg.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
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

    const quarter = await chartOf('quarter-chart');
    expect(quarter).not.toBeNull();
    expect(quarter!.labels).toEqual(['Q1', 'Q2', 'Q3', 'Q4']);
    expect(quarter!.stacked).toBe(true);
    expect(quarter!.datasets.map((d) => d.label)).toEqual(departments);
    expect(quarter!.painted).toBeGreaterThan(1000);
    const sales = quarterRows(2021).filter((r) => r.department === 'Sales');
    expect(quarter!.datasets.find((d) => d.label === 'Sales')!.data).toEqual(
      (['Q1', 'Q2', 'Q3', 'Q4'] as const).map((q) => sales.reduce((a, r) => a + r[q], 0)),
    );

    const expected = aboveMean(2021);
    const mean = await chartOf('mean-chart');
    expect(mean!.labels).toEqual(departments);
    expect(mean!.datasets.map((d) => d.type)).toEqual(['bar', 'line']);
    expect(mean!.datasets[1].data).toEqual(departments.map(() => expected.mean));
    expect(mean!.painted).toBeGreaterThan(1000);

    const rows = quarterRows(2021);
    const table = await tableRows();
    expect(table).toHaveLength(rows.length);
    expect(table[0]).toEqual([
      rows[0].department,
      rows[0].job,
      ...[rows[0].Q1, rows[0].Q2, rows[0].Q3, rows[0].Q4].map(String),
    ]);
    expect(table.some((r) => r[1] === "O'Brien & Co. Liaison")).toBe(true);

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
    expect(await tableRows()).toHaveLength(quarterRows(2022).length);
    const above = await page.$$eval('#above-mean li', (lis) =>
      lis.map((li) => li.querySelector('.name')!.textContent),
    );
    expect(above).toEqual(aboveMean(2022).rows.map((r) => r.department));
    expect((await chartOf('mean-chart'))!.datasets[1].data[0]).toBe(aboveMean(2022).mean);
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
    expect(await tableRows()).toHaveLength(quarterRows(2021).length);
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
