// `lstm dashboard`: a small fastify server with the page and the JSON API it reads, which
// scripts can use too. Every request passes the RequestGuard first (Host header, token,
// actions from the page's own origin); every answer carries headers that keep the page out
// of frames, other origins' scripts and referrers.
import fastifyCookie from '@fastify/cookie';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type InjectOptions,
  type LightMyRequestResponse,
} from 'fastify';
import { InvalidIdentifierError } from '@lstm-runner/protocol';
import {
  DEFAULT_DASHBOARD_OPTIONS,
  MAX_CHART_POINTS,
  validateDashboardOptions,
  type DashboardInput,
  type DashboardOptions,
} from './dashboard-options';
import { DashboardState } from './dashboard-state';
import { UnknownJobError } from './errors/unknown-job-error';
import { loadPageAssets, type PageAsset } from './page-assets';
import { RequestGuard, TOKEN_COOKIE, TOKEN_COOKIE_MAX_AGE_SECONDS } from './request-guard';

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // The ?token= of a link never travels on in a Referer.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

type JobRequest = FastifyRequest<{ Params: { id: string }; Querystring: { points?: string } }>;

export class DashboardServer {
  readonly options: DashboardOptions;
  private readonly state: DashboardState;
  private readonly guard: RequestGuard;
  private readonly app: FastifyInstance;
  private closing: Promise<void> | undefined;

  constructor(input: DashboardInput) {
    this.options = validateDashboardOptions({ ...DEFAULT_DASHBOARD_OPTIONS, ...input });
    const { store, cluster, token, host, allowedHosts, log } = this.options;
    this.state = new DashboardState(store, cluster, { log });
    this.guard = new RequestGuard({ token, host, allowedHosts });
    this.app = Fastify({ logger: false, trustProxy: false, bodyLimit: 4096 });
    void this.app.register(fastifyCookie);
    this.app.addHook('onRequest', (request, reply) => this.admit(request, reply));
    this.app.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      return payload;
    });
    this.app.setErrorHandler((error, _request, reply) => this.fail(error, reply));
    this.app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not found' }));
    this.routes();
  }

  private async admit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const query = request.query as Record<string, unknown>;
    const decision = this.guard.check({
      method: request.method,
      path: new URL(request.url, 'http://dashboard').pathname,
      headers: request.headers,
      cookies: request.cookies,
      queryToken: typeof query['token'] === 'string' ? query['token'] : undefined,
    });
    if (!decision.allow) {
      if (decision.status === 401) void reply.header('www-authenticate', 'Bearer realm="lstm dashboard"');
      await reply.code(decision.status).send({ error: decision.reason });
      return;
    }
    if (decision.setCookie !== undefined) {
      void reply.setCookie(TOKEN_COOKIE, decision.setCookie, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        maxAge: TOKEN_COOKIE_MAX_AGE_SECONDS,
      });
    }
  }

  private fail(error: unknown, reply: FastifyReply): FastifyReply {
    const { message: text, statusCode } = error as Error & { statusCode?: number };
    const message = this.options.redact(String(text).split('\n')[0] ?? 'error');
    if (error instanceof UnknownJobError) return reply.code(404).send({ error: message });
    if (error instanceof InvalidIdentifierError) return reply.code(400).send({ error: message });
    if (statusCode !== undefined && statusCode < 500) return reply.code(statusCode).send({ error: message });
    this.options.log(`${reply.request.method} ${reply.request.url.split('?')[0]}: ${message}`);
    return reply.code(500).send({ error: message });
  }

  private routes(): void {
    const { app, state, options } = this;
    const assets = loadPageAssets();
    const send = (reply: FastifyReply, asset: PageAsset): FastifyReply => reply.type(asset.contentType).send(asset.body);
    app.get('/', (_request, reply) => send(reply, assets.page));
    app.get<{ Params: { name: string } }>('/static/:name', (request, reply) => {
      const asset = assets.static.get(request.params.name);
      return asset === undefined ? reply.code(404).send({ error: 'not found' }) : send(reply, asset);
    });
    app.get('/api/info', () => ({ store: options.store.url, refreshMs: options.refreshMs, chartPoints: options.chartPoints }));
    app.get('/api/jobs', () => state.jobs());
    app.get('/api/jobs/:id', (request: JobRequest) => state.job(request.params.id, this.pointsOf(request.query.points)));
    app.get('/api/workers', () => state.workers());
    app.get('/api/queues', () => state.queues());
    // Actions answer 409 with the reason when the job cannot do it (already completed, no worker of its numerics, ...).
    const action = (run: (jobId: string) => Promise<string>) => async (request: JobRequest, reply: FastifyReply) => {
      try {
        return { message: await run(request.params.id) };
      } catch (error) {
        if (error instanceof UnknownJobError || error instanceof InvalidIdentifierError) throw error;
        return reply.code(409).send({ error: this.options.redact((error as Error).message.split('\n')[0] ?? 'refused') });
      }
    };
    app.post(
      '/api/jobs/:id/cancel',
      action((jobId) => state.cancel(jobId)),
    );
    app.post(
      '/api/jobs/:id/resume',
      action((jobId) => state.resume(jobId)),
    );
  }

  /** ?points=N (3 to MAX_CHART_POINTS), all (every record), or the default. */
  private pointsOf(text: string | undefined): number | null {
    if (text === undefined) return this.options.chartPoints;
    if (text === 'all') return null;
    const points = Number(text);
    if (!Number.isInteger(points) || points < 3 || points > MAX_CHART_POINTS) {
      throw Object.assign(new Error(`points must be an integer from 3 to ${MAX_CHART_POINTS}, or all; got '${text}'`), { statusCode: 400 });
    }
    return points;
  }

  /** A request without a network: for tests. */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse> {
    return this.app.inject(options);
  }

  /** Listens; resolves with the page's address. */
  async start(): Promise<string> {
    await this.app.listen({ port: this.options.port, host: this.options.host });
    const address = this.app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : this.options.port;
    const host = this.options.host.includes(':') && !this.options.host.startsWith('[') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${port}/`;
  }

  /** Stops listening. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.app.close();
    return this.closing;
  }
}
