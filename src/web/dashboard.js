// The hiring dashboard: plain browser JavaScript, no build step. Chart.js comes from
// assets/chart.umd.js (window.Chart). Tests wait on document.body.dataset.state: 'loading',
// then 'ready' once both requests have rendered, or 'error'.
(() => {
  'use strict';

  const MIN_YEAR = 2000;
  const MAX_YEAR = 2030;
  const DEFAULT_YEAR = 2021;
  const QUARTERS = ['Q1', 'Q2', 'Q3', 'Q4'];
  // Distinct, colour-blind-friendly-ish hues (Tableau 10 + 2); repeats after 12 departments.
  const PALETTE = [
    '#4e79a7',
    '#f28e2b',
    '#e15759',
    '#76b7b2',
    '#59a14f',
    '#edc948',
    '#b07aa1',
    '#ff9da7',
    '#9c755f',
    '#bab0ac',
    '#1f77b4',
    '#17becf',
  ];
  const ABOVE = '#2f6fb3';
  const BELOW = '#b8c4d3';
  const MEAN = '#d1495b';

  const $ = (id) => document.getElementById(id);
  const form = $('year-form');
  const yearInput = $('year');
  const errorBox = $('error');
  const statusBox = $('status');
  const tbody = document.querySelector('#hires-table tbody');
  const aboveList = $('above-mean');
  const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

  const charts = { quarter: null, mean: null };
  let requestSeq = 0;

  if (window.Chart) {
    window.Chart.defaults.animation = false;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = '#3b4756';
  }

  function setState(state) {
    document.body.dataset.state = state;
    document.body.setAttribute('aria-busy', String(state === 'loading'));
  }

  function showError(message, code) {
    errorBox.textContent = message;
    if (code) errorBox.dataset.code = code;
    else delete errorBox.dataset.code;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = '';
    delete errorBox.dataset.code;
  }

  class ApiError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  /** GET a JSON endpoint; an error body `{ error: { code, message } }` becomes an ApiError. */
  async function getJson(url, signal) {
    let res;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, signal });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(`Could not reach the server: ${err.message}`, 'network_error');
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      // not JSON: reported below
    }
    if (!res.ok) {
      const e = body && body.error;
      throw new ApiError(
        e && e.message ? e.message : `Request failed: ${res.status} ${res.statusText}`,
        e && e.code,
      );
    }
    if (!body || !Array.isArray(body.rows))
      throw new ApiError(`Unexpected response from ${url}`, 'bad_response');
    return body;
  }

  let controller = null;
  let requestedYear = null;

  async function load(year) {
    requestedYear = year;
    const seq = ++requestSeq;
    if (controller) controller.abort();
    controller = new AbortController();
    setState('loading');
    clearError();
    statusBox.textContent = `Loading ${year}…`;
    try {
      const [quarters, above] = await Promise.all([
        getJson(`hired_by_quarter/${year}`, controller.signal),
        getJson(`departments_above_mean/${year}`, controller.signal),
      ]);
      if (seq !== requestSeq) return; // a newer year was asked for meanwhile
      render(year, quarters, above);
      statusBox.textContent = `Showing ${year}.`;
      setState('ready');
    } catch (err) {
      if (seq !== requestSeq || err.name === 'AbortError') return;
      renderEmpty();
      statusBox.textContent = '';
      showError(err.message, err.code);
      setState('error');
    }
  }

  function render(year, quarters, above) {
    const departments = []; // in the order the API gives (it pins the order)
    const perQuarter = new Map();
    for (const row of quarters.rows) {
      if (!perQuarter.has(row.department)) {
        perQuarter.set(row.department, [0, 0, 0, 0]);
        departments.push(row.department);
      }
      const sums = perQuarter.get(row.department);
      QUARTERS.forEach((q, i) => (sums[i] += Number(row[q]) || 0));
    }
    renderTable(quarters.rows);
    renderQuarterChart(year, departments, perQuarter);
    renderMeanChart(year, departments, perQuarter, above);
    renderAboveList(above);
  }

  function renderTable(rows) {
    const fragment = document.createDocumentFragment();
    for (const row of rows) {
      const tr = document.createElement('tr');
      const cells = [row.department, row.job, ...QUARTERS.map((q) => row[q])];
      cells.forEach((value, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.scope = 'row';
        if (i >= 2) td.className = 'num';
        if (i >= 2 && !value) td.classList.add('zero');
        td.textContent = String(value);
        tr.append(td);
      });
      fragment.append(tr);
    }
    tbody.replaceChildren(fragment);
    $('table-empty').hidden = rows.length > 0;
  }

  function renderQuarterChart(year, departments, perQuarter) {
    const data = {
      labels: QUARTERS,
      datasets: departments.map((name, i) => ({
        label: name,
        data: perQuarter.get(name),
        backgroundColor: PALETTE[i % PALETTE.length],
        borderWidth: 0,
        maxBarThickness: 90,
      })),
    };
    const canvas = $('quarter-chart');
    canvas.setAttribute('aria-label', `Stacked bar chart of hires per quarter in ${year}, by department`);
    charts.quarter = draw(charts.quarter, canvas, {
      type: 'bar',
      data,
      options: {
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: true, text: 'Hires' },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12, padding: 10 } },
          tooltip: { itemSort: (a, b) => b.raw - a.raw, filter: (item) => item.raw > 0 },
        },
      },
    });
  }

  function renderMeanChart(year, departments, perQuarter, above) {
    const aboveNames = new Set(above.rows.map((r) => r.department));
    const totals = departments.map((d) => perQuarter.get(d).reduce((a, b) => a + b, 0));
    const mean = Number(above.mean);
    const canvas = $('mean-chart');
    canvas.setAttribute(
      'aria-label',
      `Bar chart of hires per department in ${year}; the mean is ${numberFormat.format(mean)}`,
    );
    charts.mean = draw(charts.mean, canvas, {
      data: {
        labels: departments,
        datasets: [
          {
            type: 'bar',
            label: 'Hires',
            data: totals,
            backgroundColor: departments.map((d) => (aboveNames.has(d) ? ABOVE : BELOW)),
            borderWidth: 0,
            order: 2,
          },
          {
            type: 'line',
            label: `Mean (${numberFormat.format(mean)})`,
            data: departments.map(() => mean),
            borderColor: MEAN,
            backgroundColor: MEAN,
            borderWidth: 2,
            borderDash: [6, 4],
            pointRadius: 0,
            pointHoverRadius: 0,
            order: 1,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        scales: {
          x: { grid: { display: false }, ticks: { autoSkip: false, maxRotation: 50, minRotation: 30 } },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'Hires' } },
        },
        plugins: {
          legend: {
            position: 'top',
            align: 'end',
            onClick: null, // the entries describe colours, not datasets to toggle
            labels: {
              boxWidth: 12,
              boxHeight: 12,
              usePointStyle: true,
              generateLabels: () => [
                legendItem('Above the mean', ABOVE, 'rect'),
                legendItem('At or below the mean', BELOW, 'rect'),
                legendItem(`Mean (${numberFormat.format(mean)})`, MEAN, 'line'),
              ],
            },
          },
        },
      },
    });
  }

  function legendItem(text, color, pointStyle) {
    return {
      text,
      fillStyle: color,
      strokeStyle: color,
      lineWidth: pointStyle === 'line' ? 2 : 0,
      pointStyle,
      hidden: false,
      fontColor: '#3b4756',
    };
  }

  function renderAboveList(above) {
    $('mean-value').textContent = numberFormat.format(Number(above.mean));
    const items = above.rows.map((row) => {
      const li = document.createElement('li');
      li.dataset.id = String(row.id);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = row.department;
      const hired = document.createElement('span');
      hired.className = 'hired';
      hired.textContent = `${row.hired} hired`;
      li.append(name, hired);
      return li;
    });
    aboveList.replaceChildren(...items);
    $('above-empty').hidden = items.length > 0;
  }

  function renderEmpty() {
    for (const key of Object.keys(charts)) {
      if (charts[key]) charts[key].destroy();
      charts[key] = null;
    }
    tbody.replaceChildren();
    aboveList.replaceChildren();
    $('mean-value').textContent = '–';
    $('table-empty').hidden = true;
    $('above-empty').hidden = true;
  }

  /** Updates a chart in place (no flicker) or creates it. */
  function draw(chart, canvas, config) {
    if (chart) {
      chart.data = config.data;
      chart.options = config.options;
      chart.update();
      return chart;
    }
    return new window.Chart(canvas, config);
  }

  function parseYear(raw) {
    const text = String(raw ?? '').trim();
    if (!/^\d{4}$/.test(text)) return null;
    const year = Number(text);
    return year >= MIN_YEAR && year <= MAX_YEAR ? year : null;
  }

  function submit() {
    const year = parseYear(yearInput.value);
    if (year === null) {
      ++requestSeq; // drop any answer still on its way
      requestedYear = null;
      renderEmpty();
      showError(`Enter a year between ${MIN_YEAR} and ${MAX_YEAR}.`, 'invalid_year');
      setState('error');
      return;
    }
    // A change event and a submit often come together for one edit: load the year once.
    if (year === requestedYear && document.body.dataset.state === 'loading') return;
    const url = new URL(window.location.href);
    url.searchParams.set('year', String(year));
    window.history.replaceState(null, '', url);
    load(year);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  yearInput.addEventListener('change', submit);

  if (!window.Chart) {
    showError('The chart library did not load (assets/chart.umd.js).', 'assets_missing');
    setState('error');
    return;
  }
  const fromUrl = parseYear(new URLSearchParams(window.location.search).get('year'));
  yearInput.value = String(fromUrl ?? DEFAULT_YEAR);
  load(fromUrl ?? DEFAULT_YEAR);
})();
