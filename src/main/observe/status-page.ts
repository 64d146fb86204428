/**
 * The live status page served at `/` of the monitoring HTTP server: one
 * self-contained HTML document (no external script, style or font) that
 * reads `status.json` every STATUS_REFRESH_MS and shows connections, message
 * and byte rates, each thread's load and each host's sessions and queues,
 * drops and the top sessions. Client ids are written as text, never as
 * markup. Main thread (served as a string).
 */

/** How often the page asks for fresh figures, in ms. */
export const STATUS_REFRESH_MS = 2000;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shoal status</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --muted: #778; --line: #8884; --accent: #2a7ab0; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; max-width: 72rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h1 span { color: var(--accent); }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  #meta, .muted { color: var(--muted); }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: .6rem; margin-top: 1rem; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
  .card b { display: block; font-size: 1.35rem; font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: .25rem .5rem; border-bottom: 1px solid var(--line); }
  th:first-child, td:first-child { text-align: left; }
  #error { color: #c33; }
</style>
</head>
<body>
<h1><span>Shoal</span> status</h1>
<div id="meta">loading…</div>
<div id="error"></div>
<div class="cards">
  <div class="card">connections<b id="connections">–</b></div>
  <div class="card">publish in /s<b id="publish-in">–</b></div>
  <div class="card">publish out /s<b id="publish-out">–</b></div>
  <div class="card">bytes in /s<b id="bytes-in">–</b></div>
  <div class="card">bytes out /s<b id="bytes-out">–</b></div>
  <div class="card">connects /s<b id="connects">–</b></div>
  <div class="card">subscriptions<b id="subscriptions">–</b></div>
  <div class="card">retained<b id="retained">–</b></div>
</div>
<h2>Threads and actor hosts</h2>
<table id="threads"><thead><tr><th>thread</th><th>sessions</th><th>connected</th><th>queued</th><th>inflight</th><th>busy</th><th>loop delay p99</th></tr></thead><tbody></tbody></table>
<h2>Drops</h2>
<table id="drops"><thead><tr><th>reason</th><th>messages</th></tr></thead><tbody></tbody></table>
<h2>Largest queues</h2>
<table id="top-queue"><thead><tr><th>client id</th><th>pool</th><th>host</th><th>connected</th><th>queued</th><th>inflight</th></tr></thead><tbody></tbody></table>
<h2>Most packets</h2>
<table id="top-packets"><thead><tr><th>client id</th><th>pool</th><th>host</th><th>connected</th><th>packets in</th><th>packets out</th></tr></thead><tbody></tbody></table>
<script>
  const REFRESH_MS = ${STATUS_REFRESH_MS};
  const number = (n) => (typeof n === 'number' ? n.toLocaleString('en') : String(n));
  const percent = (u) => (u === null ? '–' : (u * 100).toFixed(0) + ' %');
  const set = (id, value) => { document.getElementById(id).textContent = number(value); };
  function rows(id, list, cells, empty) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (list.length === 0) list = [null];
    for (const item of list) {
      const tr = document.createElement('tr');
      for (const cell of item === null ? [empty] : cells(item)) {
        const td = document.createElement('td');
        td.textContent = typeof cell === 'number' ? number(cell) : cell;
        if (item === null) { td.colSpan = 8; td.className = 'muted'; }
        tr.append(td);
      }
      body.append(tr);
    }
  }
  function show(s) {
    document.getElementById('meta').textContent = 'version ' + s.version + ' · up ' + number(s.uptimeSeconds) + ' s · updated ' + new Date().toLocaleTimeString();
    set('connections', s.connections);
    set('publish-in', s.rates.publishIn);
    set('publish-out', s.rates.publishOut);
    set('bytes-in', s.rates.bytesIn);
    set('bytes-out', s.rates.bytesOut);
    set('connects', s.rates.connects);
    set('subscriptions', s.subscriptions);
    set('retained', s.retained);
    const inline = s.hosts.every((h) => h.thread === null);
    const threads = [{ name: inline ? 'main (hosts inline)' : 'main', host: null, thread: s.main }];
    for (const h of s.hosts) threads.push({ name: 'host ' + h.host, host: h, thread: h.thread });
    rows('threads', threads, (t) => [
      t.name,
      t.host ? t.host.sessions : '',
      t.host ? t.host.connected : '',
      t.host ? t.host.queued : '',
      t.host ? t.host.inflight : '',
      t.thread ? percent(t.thread.utilisation) : 'main',
      t.thread ? t.thread.delayP99Ms.toFixed(1) + ' ms' : '',
    ], '');
    rows('drops', Object.entries(s.drops), ([reason, n]) => [reason, n], 'none');
    rows('top-queue', s.topByQueue, (x) => [x.clientId, x.pool || 'default', x.host, x.connected ? 'yes' : 'no', x.queued, x.inflight], 'no queued messages');
    rows('top-packets', s.topByPackets, (x) => [x.clientId, x.pool || 'default', x.host, x.connected ? 'yes' : 'no', x.packetsIn, x.packetsOut], 'no sessions');
  }
  async function refresh() {
    try {
      const response = await fetch('status.json', { cache: 'no-store' });
      if (!response.ok) throw new Error('status.json: HTTP ' + response.status);
      show(await response.json());
      document.getElementById('error').textContent = '';
    } catch (err) {
      document.getElementById('error').textContent = String(err);
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }
  refresh();
</script>
</body>
</html>
`;
