/**
 * What watching a broker costs it, as a bench target sees it: scrapes
 * `/metrics` every second (a Prometheus with a 1 s interval, five times the
 * usual rate) and `/status.json` every two seconds (an open status page)
 * from the orchestrator process while the broker runs. Failed requests are
 * counted, not thrown: the run measures the broker, not its monitoring.
 */

/** Interval of the /metrics scrapes, in ms. */
const METRICS_INTERVAL_MS = 1000;
/** Interval of the status page's requests, in ms (the page's own refresh). */
const STATUS_INTERVAL_MS = 2000;
/** Longest a request may take before it is abandoned, in ms. */
const REQUEST_TIMEOUT_MS = 5000;

/** Starts watching the monitoring server at host:port; the answer stops it. */
export function watchBroker(host: string, port: number): () => void {
  const get = (path: string): void => {
    fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      .then((response) => response.arrayBuffer())
      .catch(() => undefined);
  };
  const metrics = setInterval(() => get('/metrics'), METRICS_INTERVAL_MS);
  const status = setInterval(() => get('/status.json'), STATUS_INTERVAL_MS);
  return () => {
    clearInterval(metrics);
    clearInterval(status);
  };
}
