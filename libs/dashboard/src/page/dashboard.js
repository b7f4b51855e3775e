// The dashboard page: reads the JSON API every few seconds and draws what it says. Plain
// browser JavaScript served as is (no build step); every value from the API goes into the
// page as text, never as HTML.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);

  // A ?token= link set the cookie that carries the token from now on: drop it from the address bar and the history.
  if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname + location.hash);

  let info = { refreshMs: 2000, chartPoints: 1000, store: '' };
  let jobs = [];
  let selected = selectedFromHash();
  let chart = null;
  let chartJob = null;
  let timer = null;

  function selectedFromHash() {
    const match = /^#job=(.+)$/.exec(location.hash);
    return match === null ? null : decodeURIComponent(match[1]);
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: { accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
    return body;
  }

  async function post(path) {
    const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${path}: HTTP ${response.status}`);
    return body.message;
  }

  function el(tag, text, attributes = {}) {
    const element = document.createElement(tag);
    if (text !== undefined && text !== null) element.textContent = String(text);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  }

  function cell(text, className) {
    return el('td', text, className === undefined ? {} : { class: className });
  }

  const formatLoss = (loss) => (loss === null || loss === undefined ? '-' : Number(loss).toPrecision(4));
  const formatRate = (rate) => (rate === null || rate === undefined ? '-' : Math.round(rate).toLocaleString());

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '-';
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
    return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  }

  const ago = (time) => formatDuration((Date.now() - Date.parse(time)) / 1000) + ' ago';

  function showError(message) {
    const box = $('error');
    box.hidden = message === null;
    box.textContent = message === null ? '' : message;
  }

  /** What an action did, shown for a while. */
  function showMessage(text) {
    const box = $('message');
    box.textContent = text;
    box.hidden = false;
    setTimeout(() => {
      if (box.textContent === text) box.hidden = true;
    }, 8000);
  }

  function actionButton(label, job, action) {
    const button = el('button', label, { type: 'button', 'data-action': action });
    button.addEventListener('click', async (event) => {
      event.stopPropagation();
      if (!confirm(`${label} job ${job.id}?`)) return;
      try {
        showError(null);
        showMessage(await post(`/api/jobs/${encodeURIComponent(job.id)}/${action}`));
        await refresh();
      } catch (error) {
        showError(error.message);
      }
    });
    return button;
  }

  function jobRow(job) {
    const row = el('tr', null, { 'data-job-id': job.id, 'data-state': job.state });
    if (job.id === selected) row.classList.add('selected');
    const name = cell(job.id);
    name.append(el('span', job.name, { class: 'job-name' }));
    const step = el('td');
    step.append(el('progress', null, { max: '1', value: String(job.progress) }), `${job.step}/${job.totalSteps}`);
    const actions = el('td');
    if (job.state === 'queued' || job.state === 'running') actions.append(actionButton('Cancel', job, 'cancel'));
    if (job.state === 'failed' || job.state === 'cancelled') actions.append(actionButton('Resume', job, 'resume'));
    row.append(
      name,
      cell(job.state, `state state-${job.state}`),
      cell(`${job.epoch + 1}/${job.epochs}`, 'number'),
      step,
      cell(formatRate(job.windowsPerSecond), 'number'),
      cell(formatDuration(job.etaSeconds), 'number'),
      cell(formatLoss(job.trainLoss), 'number'),
      cell(formatLoss(job.validationLoss), 'number'),
      actions,
    );
    row.addEventListener('click', () => {
      location.hash = `job=${encodeURIComponent(job.id)}`;
    });
    return row;
  }

  function renderJobs() {
    const newestFirst = [...jobs].reverse();
    $('jobs').tBodies[0].replaceChildren(...newestFirst.map(jobRow));
    $('no-jobs').hidden = jobs.length > 0;
    $('job-count').textContent = `(${jobs.length})`;
    const warnings = [];
    for (const job of newestFirst) {
      if (job.noLiveWorker) {
        warnings.push(
          el('p', `Job ${job.id} cannot move: no live worker serves its profile ${job.profile}. Start workers of that profile.`, {
            class: 'warning',
            'data-warning-job': job.id,
          }),
        );
      } else if (job.notice !== null) {
        warnings.push(el('p', `Job ${job.id}: ${job.notice}`, { class: 'warning' }));
      }
    }
    $('warnings').replaceChildren(...warnings);
  }

  function shardText(taskId) {
    const match = /^j-(.+)-g(\d+)-s(\d+)-([tvr])(\d+)$/.exec(taskId);
    if (match === null) return taskId;
    const what = { t: 'train shard', v: 'validation shard', r: 'reduce node' }[match[4]];
    return `${what} ${match[5]} of ${match[1]} step ${match[3]}`;
  }

  function renderWorkers(workers) {
    $('workers').tBodies[0].replaceChildren(
      ...workers.map((worker) => {
        const doing =
          worker.current.length === 0
            ? worker.live
              ? 'idle'
              : 'gone'
            : worker.current.map((shard) => `${shardText(shard.taskId)} (${ago(shard.since)})`).join('; ');
        const row = el('tr', null, { 'data-worker-id': worker.id, class: worker.live ? 'live' : 'gone' });
        row.append(
          cell(worker.id),
          cell(worker.host),
          cell(worker.profile),
          cell(worker.backend),
          cell(worker.live ? doing : 'gone'),
          cell(worker.shardsDone, 'number'),
          cell(ago(worker.seenAt)),
        );
        return row;
      }),
    );
    $('no-workers').hidden = workers.length > 0;
    $('worker-count').textContent = `(${workers.filter((worker) => worker.live).length} live)`;
    return workers;
  }

  function renderQueues(queues, workers) {
    $('queues').tBodies[0].replaceChildren(
      ...queues.map((queue) => {
        const row = el('tr', null, { 'data-queue-profile': queue.profile });
        const live = workers.filter((worker) => worker.live && worker.profile === queue.profile).length;
        row.append(
          cell(queue.profile),
          cell(queue.waiting, 'number'),
          cell(queue.active, 'number'),
          cell(queue.delayed, 'number'),
          cell(live, 'number'),
        );
        return row;
      }),
    );
    $('no-queues').hidden = queues.length > 0;
  }

  /** uPlot's columns: the steps of both series, the training loss and the validation loss (null where not measured). */
  function chartData(metrics) {
    const validation = new Map(metrics.validation.map(([step, loss]) => [step, loss]));
    const train = new Map(metrics.train.map(([step, loss]) => [step, loss]));
    const steps = [...new Set([...train.keys(), ...validation.keys()])].sort((a, b) => a - b);
    return [
      steps,
      steps.map((step) => (train.has(step) ? train.get(step) : null)),
      steps.map((step) => (validation.has(step) ? validation.get(step) : null)),
    ];
  }

  function drawChart(jobId, metrics) {
    const box = $('chart');
    const data = chartData(metrics);
    const width = Math.max(300, box.clientWidth - 16);
    if (chart === null || chartJob !== jobId) {
      if (chart !== null) chart.destroy();
      box.replaceChildren();
      chart = new uPlot(
        {
          width,
          height: 300,
          scales: { x: { time: false } },
          axes: [{ label: 'step' }, { label: 'loss' }],
          series: [
            { label: 'step' },
            { label: 'train', stroke: '#2f6fd6', width: 1.5 },
            { label: 'validation', stroke: '#d6452f', width: 2, spanGaps: true, points: { show: true, size: 5 } },
          ],
        },
        data,
        box,
      );
      chartJob = jobId;
    } else {
      chart.setData(data);
    }
    box.dataset.points = String(metrics.train.length);
    box.dataset.lastStep = metrics.train.length === 0 ? '' : String(metrics.train[metrics.train.length - 1][0]);
    $('chart-note').textContent =
      metrics.records > metrics.train.length
        ? `${metrics.records.toLocaleString()} steps, drawn with ${metrics.train.length} points`
        : `${metrics.records} steps`;
  }

  function renderDetail(detail) {
    const { job, checkpoints, metrics } = detail;
    $('job-detail').hidden = false;
    $('job-title').textContent = `${job.id} (${job.name}): ${job.state}`;
    $('job-facts').textContent =
      `profile ${job.profile}, ${job.liveWorkers} live worker${job.liveWorkers === 1 ? '' : 's'}, generation ${job.generation}, epoch ${job.epoch + 1} of ${job.epochs}, step ${job.step} of ${job.totalSteps}${job.message === null ? '' : `: ${job.message}`}`;
    $('job-notice').hidden = job.notice === null;
    $('job-notice').textContent = job.notice ?? '';
    drawChart(job.id, metrics);
    $('checkpoint-count').textContent = `(${checkpoints.length})`;
    const shown = checkpoints.slice(-200);
    $('checkpoints').replaceChildren(
      ...(checkpoints.length > shown.length ? [el('span', `${checkpoints.length - shown.length} older, then `, { class: 'note' })] : []),
      ...shown.map((checkpoint) =>
        el('span', `step ${checkpoint.step}${checkpoint.latest ? ' (latest)' : ''}`, {
          class: checkpoint.latest ? 'checkpoint latest' : 'checkpoint',
          title: checkpoint.prefix,
        }),
      ),
    );
    if (checkpoints.length === 0) $('checkpoints').textContent = 'none yet';
  }

  async function refresh() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    try {
      const [jobList, workers, queues] = await Promise.all([getJson('/api/jobs'), getJson('/api/workers'), getJson('/api/queues')]);
      jobs = jobList;
      if (selected === null && jobs.length > 0) {
        const running = jobs.filter((job) => job.state === 'running');
        selected = (running[running.length - 1] ?? jobs[jobs.length - 1]).id;
      }
      renderJobs();
      renderQueues(queues, renderWorkers(workers));
      if (selected !== null && jobs.some((job) => job.id === selected)) {
        renderDetail(await getJson(`/api/jobs/${encodeURIComponent(selected)}?points=${info.chartPoints}`));
      }
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      showError(null);
    } catch (error) {
      showError(`could not refresh: ${error.message}`);
    } finally {
      timer = setTimeout(refresh, info.refreshMs);
    }
  }

  window.addEventListener('hashchange', () => {
    selected = selectedFromHash();
    void refresh();
  });
  window.addEventListener('resize', () => {
    if (chart !== null) chart.setSize({ width: Math.max(300, $('chart').clientWidth - 16), height: 300 });
  });

  getJson('/api/info')
    .then((answer) => {
      info = answer;
      $('store').textContent = info.store;
    })
    .catch((error) => showError(error.message))
    .finally(() => void refresh());
})();
