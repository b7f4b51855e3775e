// The one small HTTP port of `lstm coordinator` and `lstm worker`: /healthz (live while the
// event loop answers), /readyz (ready when its probe says so), /metrics (Prometheus text) and,
// per service, a few JSON routes (the coordinator's /scaling for autoscalers). Plain
// node:http: four GET routes need no framework.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ServiceEndpointOptions {
  readonly port: number;
  /** Where to listen; default all interfaces (a container's health checks come from outside). */
  readonly host: string;
  /** Null when the service is ready, else why not (one line). */
  readonly ready: () => Promise<string | null>;
  readonly metrics: Registry;
  /** GET routes answering JSON, by path. */
  readonly json: Readonly<Record<string, () => Promise<unknown>>>;
}

export const DEFAULT_ENDPOINT_HOST = '0.0.0.0';

export class ServiceEndpoints {
  private server: Server | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: ServiceEndpointOptions) {}

  /** Starts listening; resolves with the port (the one picked when options.port is 0). */
  async start(): Promise<number> {
    const server = createServer((request, response) => void this.answer(request, response));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, contentType: string, body: string): void => {
      response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(body);
    };
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, 'text/plain', 'GET only\n');
      if (path === '/healthz') return send(200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        const reason = await this.options.ready();
        return reason === null ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', `not ready: ${reason}\n`);
      }
      if (path === '/metrics') return send(200, this.options.metrics.contentType, await this.options.metrics.metrics());
      const route = this.options.json[path];
      if (route !== undefined) return send(200, 'application/json', `${JSON.stringify(await route())}\n`);
      send(404, 'text/plain', 'not found\n');
    } catch (error) {
      send(500, 'text/plain', `${(error as Error).message.split('\n')[0]}\n`);
    }
  }

  /** Stops listening. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.server === undefined) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }
}
