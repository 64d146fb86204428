/**
 * The monitoring HTTP server on `metricsPort` (off at -1): `/metrics` in the
 * Prometheus text format (metrics.ts), `/healthz` (the process serves HTTP),
 * `/readyz` (200 when `Broker.readiness()` is ready, 503 otherwise, with its
 * parts as JSON), the live status page at `/` and its figures at
 * `/status.json`. GET (and HEAD) only. Main thread.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrokerConfig } from '../../api/config.js';
import type { Logger } from '../../shared/log.js';
import type { BrokerWatch } from '../broker-stats.js';
import { BrokerMetrics } from './metrics.js';
import { STATUS_PAGE_HTML } from './status-page.js';
import { StatusReport } from './status-report.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export class MonitorServer {
  private server: Server | undefined;
  private metrics: BrokerMetrics | undefined;
  private status: StatusReport | undefined;

  constructor(
    private readonly config: BrokerConfig,
    private readonly log: Logger,
    private readonly broker: BrokerWatch,
  ) {}

  /** Starts serving when metricsPort is set (nothing at -1); rejects when the port cannot be bound. */
  async listen(): Promise<void> {
    const { metricsPort, metricsHost } = this.config;
    if (metricsPort < 0 || this.server) return;
    this.metrics = new BrokerMetrics(() => this.broker.stats());
    this.status = new StatusReport(this.broker);
    const server = createServer((req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        this.log.warn({ err, path: req.url }, 'monitoring request failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(metricsPort, metricsHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'monitoring server error'));
    this.server = server;
    const address = server.address() as AddressInfo;
    this.log.info({ host: address.address, port: address.port }, 'monitoring on /metrics, /healthz, /readyz and /');
  }

  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    const path = new URL(req.url ?? '/', 'http://monitor').pathname;
    switch (path) {
      case '/metrics': {
        const metrics = this.metrics!;
        return send(res, 200, metrics.contentType, await metrics.scrape());
      }
      case '/healthz':
        return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      case '/readyz': {
        const readiness = await this.broker.readiness();
        return send(res, readiness.ready ? 200 : 503, JSON_TYPE, JSON.stringify(readiness));
      }
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
      case '/status.json':
        return send(res, 200, JSON_TYPE, JSON.stringify(await this.status!.report()));
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
