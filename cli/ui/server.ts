/**
 * The `floxide ui` HTTP server (node:http, no framework): the static page (`static/`, shipped in the package, no
 * build step, no CDN), a JSON API over a store, server-sent events for live updates, and the run actions.
 *
 * Routes:
 * | method | path | answer |
 * |---|---|---|
 * | GET | `/`, `/runs/<id>` | the page (`static/index.html`; the script routes on the path) |
 * | GET | `/static/<file>` | the page's script and style sheet |
 * | GET | `/api/runs?status=&workflow=&after=&limit=` | one page of runs ({@link runsPage}) |
 * | GET | `/api/runs/<id>` | the run page's data ({@link runView}) |
 * | GET | `/api/runs/<id>/graph` | the SVG graph of the run's version (`--graphs`, cli/ui/graphs.ts), with an `X-Floxide-Graph-Note` (URI-encoded) when it was drawn from a versions file; 404 when none |
 * | GET | `/api/runs/live` | `text/event-stream`: a `runs` event when runs were created or changed status (at most every 150 ms) |
 * | GET | `/api/runs/<id>/live` | `text/event-stream`: a `run` event with the run page's data whenever it changes |
 * | POST | `/api/runs/<id>/cancel`, `/pause`, `/resume` | the transition (`{ applied, status, dropped }`) |
 * | POST | `/api/runs/<id>/signal` | body `{ name, payload, key? }` (JSON): sends the signal as `floxide runs signal` does (`{ delivery }`; 409 with the error for a key the run received with another name or payload) |
 *
 * The live streams of both kinds count against `maxLiveStreams`: beyond it a new one is answered 503 with `Retry-After`.
 *
 * Access: bound to a loopback address, requests must name a loopback host (no DNS rebinding). Given a token (and
 * always when listening beyond loopback, where one is generated if none is given), every API request must carry it:
 * open the printed URL (`/?token=...`) once and the server sets an HttpOnly, SameSite=Strict cookie named for its port
 * (`floxide_ui_<port>`). Actions also
 * need the `X-Floxide-Action` header, which a cross-site form cannot send.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { FloxideError, InvalidArgumentError, InvalidSignalError, RunNotFoundError, RunStateError, SignalKeyConflictError, StoreError, UnsupportedOperationError } from '../../runtime/core/errors.js';
import { safeJsonParse } from '../../runtime/core/json.js';
import { assertRunId } from '../../runtime/core/ids.js';
import { timerPeriodMs } from '../../runtime/core/time.js';
import type { RunsStore } from '../store/runs-store.js';
import { sendSignal } from '../store/signal.js';
import { GraphFiles } from './graphs.js';
import { LiveRuns, MAX_LIVE_STREAMS } from './live.js';
import { answerWithin, STORE_ANSWER_MS } from './store-deadline.js';
import { runsPage, runView } from './views.js';
import { valueText } from '../values-text.js';

export interface UiServerOptions {
  /** The store the dashboard shows (the caller owns it: {@link UiServer.close} does not close it). */
  readonly backend: RunsStore;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** The access token. Generated when the host is not loopback and none is given; none on loopback by default. */
  readonly token?: string;
  /** Folders holding `<Workflow>.svg` graphs (`floxide build --docs <dir>`). */
  readonly graphs?: readonly string[];
  /**
   * How often live streams re-read an open run, in ms, when the store publishes no events (default 500); with events
   * (memory, Redis), a safety re-read every ten times as long.
   */
  readonly livePollMs?: number;
  /**
   * How long a request waits for the store before it is answered 503 (default {@link STORE_ANSWER_MS}): a store that
   * stops answering without closing its connections would leave pages, actions and live updates waiting for minutes.
   */
  readonly storeTimeoutMs?: number;
  /**
   * The most live streams (server-sent events of run pages and runs lists) open at once, default
   * {@link MAX_LIVE_STREAMS}: beyond it a stream is answered 503 with `Retry-After`. A closed connection frees its place.
   */
  readonly maxLiveStreams?: number;
}

export interface UiServer {
  /** The URL to open (with `?token=` when a token is required). */
  readonly url: string;
  /** The token every API request needs, if any. */
  readonly token: string | undefined;
  readonly port: number;
  /** Stops listening and ends live streams. */
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
/**
 * The auth cookie's name on `port`: a browser sends a host's cookies to every port of it, so two dashboards on one host
 * (different ports) would overwrite each other's cookie under one name.
 */
const cookieName = (port: number): string => `floxide_ui_${port}`;
/** The response header of a graph that says where it was drawn from (see `RunGraph.note`). */
const GRAPH_NOTE_HEADER = 'x-floxide-graph-note';
const STATIC: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function staticFile(name: string): Promise<string> {
  return readFile(new URL(`./static/${name}`, import.meta.url), 'utf8');
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeOr(v.join('='));
  }
  return undefined;
}

/** `text` percent-decoded, or undefined when its encoding is malformed (`%E0`). */
function decodeOr(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function hostnameOf(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  return hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.replace(/:\d+$/, '');
}

/** An HTTP status for a store or argument failure. */
function statusOf(err: unknown): number {
  if (err instanceof RunNotFoundError) return 404;
  // (a signal key reused with another name or payload: the request conflicts with what the key already names)
  if (err instanceof SignalKeyConflictError) return 409;
  if (err instanceof InvalidArgumentError || err instanceof InvalidSignalError) return 400;
  if (err instanceof RunStateError || err instanceof UnsupportedOperationError) return 409;
  if (err instanceof StoreError) return 503;
  return 500;
}

/** The largest request body the server reads (a signal's JSON payload). */
const MAX_BODY_BYTES = 256 * 1024;

/** Reads a request's body as text; `InvalidArgumentError` past {@link MAX_BODY_BYTES}. */
async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new InvalidArgumentError(`the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A signal request's body: `{ name, payload, key? }`. */
function signalRequest(text: string): { name: string; payload: unknown; key: string | undefined } {
  let body: Record<string, unknown>;
  try {
    body = safeJsonParse<Record<string, unknown>>(text, 'the signal request');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message, { cause: err });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgumentError('a signal request is a JSON object { name, payload, key? }');
  const { name, payload, key } = body;
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a signal needs a name');
  if (key !== undefined && (typeof key !== 'string' || key.length === 0)) throw new InvalidArgumentError('a signal key is a non-empty string');
  // (no default: a null the wait's check refuses would only be refused by the wait later, as `floxide runs signal` without --data)
  if (payload === undefined) throw new InvalidArgumentError('a signal request needs its payload: null for a signal that carries nothing');
  return { name, payload, key };
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', valueText(value));
}

/** Starts the dashboard; resolves once it listens. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  const token = options.token ?? (loopback ? undefined : randomBytes(24).toString('base64url'));
  if (token !== undefined && !/^[A-Za-z0-9._~-]{16,256}$/.test(token)) {
    throw new InvalidArgumentError('the token must be 16-256 characters of [A-Za-z0-9._~-]');
  }
  const { backend } = options;
  const graphs = new GraphFiles(options.graphs ?? []);
  const pollMs = timerPeriodMs(options.livePollMs, 500, 'livePollMs', 10);
  const storeMs = timerPeriodMs(options.storeTimeoutMs, STORE_ANSWER_MS, 'storeTimeoutMs');
  const maxStreams = options.maxLiveStreams ?? MAX_LIVE_STREAMS;
  if (!(Number.isSafeInteger(maxStreams) && maxStreams >= 1 && maxStreams <= 100_000)) {
    throw new InvalidArgumentError(`maxLiveStreams must be an integer from 1 to 100000, got ${String(maxStreams)}`);
  }
  const live = new LiveRuns(backend, { pollMs, safetyMs: pollMs * 10, storeTimeoutMs: storeMs, maxStreams });
  /** The port listened on (set once listening, before any request). */
  let port = 0;

  function authorized(req: IncomingMessage): boolean {
    if (token === undefined) return true;
    const auth = req.headers.authorization;
    // the scheme's name is case-insensitive (RFC 9110): `bearer <token>` too
    const bearer = auth === undefined ? undefined : /^bearer +(\S+) *$/i.exec(auth)?.[1];
    return sameToken(cookieOf(req, cookieName(port)), token) || sameToken(bearer, token);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    // Bound to loopback, only loopback names: a page of another site that rebinds its DNS name to 127.0.0.1 gets nothing.
    if (loopback && !isLoopback(hostnameOf(req.headers.host))) {
      return path.startsWith('/api/') ? sendJson(res, 403, { error: 'forbidden host' }) : send(res, 403, 'text/plain; charset=utf-8', 'forbidden host\n');
    }

    if (req.method === 'GET' && (path === '/' || /^\/runs\/[^/]+$/.test(path))) {
      const given = url.searchParams.get('token');
      if (token !== undefined && given !== null) {
        if (!sameToken(given, token)) return send(res, 403, 'text/plain; charset=utf-8', 'wrong token\n');
        url.searchParams.delete('token');
        res.writeHead(303, { ...SECURITY_HEADERS, location: `${path}${url.search}`, 'set-cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/` });
        return void res.end();
      }
      return send(res, 200, STATIC['index.html']!, await staticFile('index.html'));
    }
    const asset = /^\/static\/([a-z.]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && asset && STATIC[asset]) return send(res, 200, STATIC[asset], await staticFile(asset));
    if (!path.startsWith('/api/')) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');

    if (!authorized(req)) return sendJson(res, 401, { error: 'this dashboard needs its token: open the URL floxide ui printed (it ends with ?token=...)' });
    if (req.method === 'GET' && path === '/api/runs/live') return live.streamList(res, SECURITY_HEADERS);
    if (req.method === 'GET' && path === '/api/runs') {
      const q = url.searchParams;
      return sendJson(res, 200, await answerWithin(runsPage(backend, { status: q.get('status'), workflow: q.get('workflow'), after: q.get('after'), limit: q.get('limit') }), storeMs, 'the runs list'));
    }
    const m = /^\/api\/runs\/([^/]+)(?:\/(graph|live|cancel|pause|resume|signal))?$/.exec(path);
    if (!m) return sendJson(res, 404, { error: 'not found' });
    const runId = decodeOr(m[1]!);
    if (runId === undefined) throw new InvalidArgumentError(`invalid run id ${JSON.stringify(m[1])}: malformed percent-encoding`);
    assertRunId(runId);
    const what = m[2];
    if (req.method === 'GET' && what === undefined) return sendJson(res, 200, await answerWithin(runView(backend, runId), storeMs, `run ${runId}`));
    if (req.method === 'GET' && what === 'graph') {
      const run = await answerWithin(backend.getRun(runId), storeMs, `run ${runId}`);
      if (!run) throw new RunNotFoundError(`no run with id ${JSON.stringify(runId)}`);
      const graph = await graphs.graphOf(run.workflow, run.fingerprint);
      if ('missing' in graph) return sendJson(res, 404, { error: graph.missing });
      return send(res, 200, 'image/svg+xml; charset=utf-8', graph.svg, graph.note === undefined ? {} : { [GRAPH_NOTE_HEADER]: encodeURIComponent(graph.note) });
    }
    if (req.method === 'GET' && what === 'live') return live.streamRun(runId, res, SECURITY_HEADERS);
    if (req.method === 'POST' && (what === 'cancel' || what === 'pause' || what === 'resume')) {
      if (req.headers['x-floxide-action'] !== '1') return sendJson(res, 403, { error: 'actions need the X-Floxide-Action: 1 header' });
      req.resume();
      const action = what === 'cancel' ? backend.cancelRun(runId, 'cancelled from floxide ui') : what === 'pause' ? backend.pauseRun(runId) : backend.resumeRun(runId);
      const t = await answerWithin(action, storeMs, `the ${what} of run ${runId} (it may still apply when the store answers)`);
      live.poke(runId);
      return sendJson(res, 200, t);
    }
    if (req.method === 'POST' && what === 'signal') {
      if (req.headers['x-floxide-action'] !== '1') return sendJson(res, 403, { error: 'actions need the X-Floxide-Action: 1 header' });
      const { name, payload, key } = signalRequest(await bodyOf(req));
      // The store API `floxide runs signal` uses: the backend delivers it to the oldest wait, or keeps it in the mailbox.
      const { delivery, kept } = await answerWithin(sendSignal(backend, runId, name, payload, key), storeMs, `signal ${name} to run ${runId} (it may still be delivered when the store answers)`);
      live.poke(runId);
      // (kept: a distributed store says whether it went to the mailbox, no wait of the name being parked)
      return sendJson(res, 200, kept === undefined ? { delivery } : { delivery, kept });
    }
    return sendJson(res, 405, { error: `${req.method} is not allowed here` });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const status = statusOf(err);
      sendJson(res, status, { error: err instanceof FloxideError || status !== 500 ? (err as Error).message : 'internal error' });
      if (status === 500) process.emitWarning(`floxide ui: ${(err as Error)?.stack ?? String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, options.port ?? 0)));
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const address = browsableHost(host);
  const shown = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return {
    url: `http://${shown}:${port}/${token === undefined ? '' : `?token=${token}`}`,
    token,
    port,
    async close() {
      live.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The host a browser opens for a server listening on `host`: itself, except for the wildcard addresses (`0.0.0.0`,
 * `::`), which no browser opens: then this machine's first external address (IPv4 first), else its host name.
 */
function browsableHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '[::]') return host;
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:')));
  return (external.find((a) => a!.family === 'IPv4') ?? external[0])?.address ?? hostname();
}

/** A failure to listen, in words: what is wrong with the address and which option changes it. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const why =
    err.code === 'EADDRINUSE'
      ? 'the port is in use (by another floxide ui?): choose another with --port, or --port 0 for a free one'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges): choose another with --port'
        : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
          ? `this machine has no address ${host}: use --host 127.0.0.1, or --host 0.0.0.0 for every interface`
          : err.message;
  return new Error(`cannot listen on ${host}:${port}: ${why}`, { cause: err });
}
