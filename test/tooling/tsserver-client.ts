/**
 * A small client for a real tsserver (`node_modules/typescript/lib/tsserver.js`) over its stdio protocol: one JSON
 * request per line in, `Content-Length`-framed JSON out. Used by the ts-plugin tests and the compiler bench.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const TSSERVER = path.join(repo, 'node_modules/typescript/lib/tsserver.js');

export interface TsDiagnostic {
  start: { line: number; offset: number };
  end: { line: number; offset: number };
  text: string;
  code: number;
  category: string;
  source?: string;
}

export interface TsCodeFix {
  fixName: string;
  description: string;
  changes: Array<{ fileName: string; textChanges: Array<{ start: { line: number; offset: number }; end: { line: number; offset: number }; newText: string }> }>;
}

export class TsServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private seq = 0;
  private buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, { resolve: (body: unknown) => void; reject: (err: Error) => void; command: string }>();
  private stderr = '';

  /** Starts tsserver; plugins named in tsconfigs are looked up in `<probe>/node_modules` for each probe location. */
  constructor(opts: { probeLocations?: string[]; logFile?: string; cwd?: string } = {}) {
    const args = [TSSERVER, '--disableAutomaticTypingAcquisition', '--suppressDiagnosticEvents'];
    if (opts.probeLocations?.length) args.push('--pluginProbeLocations', opts.probeLocations.join(','));
    if (opts.logFile) args.push('--logVerbosity', 'verbose', '--logFile', opts.logFile);
    this.child = spawn(process.execPath, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => this.onData(d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`tsserver exited (${code}) during ${p.command}: ${this.stderr}`));
      this.pending.clear();
    });
  }

  private onData(d: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, d]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const m = /Content-Length: (\d+)/.exec(this.buffer.subarray(0, headerEnd).toString('utf8'));
      if (!m) throw new Error(`tsserver: bad frame ${this.buffer.toString('utf8', 0, 200)}`);
      const len = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + len) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + len);
      const msg = JSON.parse(body) as { type: string; request_seq?: number; success?: boolean; message?: string; body?: unknown };
      if (msg.type !== 'response' || msg.request_seq === undefined) continue;
      const p = this.pending.get(msg.request_seq);
      if (!p) continue;
      this.pending.delete(msg.request_seq);
      if (msg.success) p.resolve(msg.body);
      else p.reject(new Error(`tsserver ${p.command}: ${msg.message}`));
    }
  }

  /** Sends a request and resolves with the response body. */
  request<T = unknown>(command: string, args: unknown): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (b: unknown) => void, reject, command });
      this.child.stdin.write(`${JSON.stringify({ seq, type: 'request', command, arguments: args })}\n`);
    });
  }

  /** Sends a request that has no response (`open`, `updateOpen` answer only when asked). */
  open(file: string, content?: string): Promise<unknown> {
    return this.request('updateOpen', { openFiles: [{ file, fileContent: content, projectRootPath: undefined }] });
  }

  edit(file: string, start: { line: number; offset: number }, end: { line: number; offset: number }, newText: string): Promise<unknown> {
    return this.request('updateOpen', { changedFiles: [{ fileName: file, textChanges: [{ start, end, newText }] }] });
  }

  semanticDiagnostics(file: string): Promise<TsDiagnostic[]> {
    return this.request<TsDiagnostic[]>('semanticDiagnosticsSync', { file });
  }

  codeFixes(file: string, d: TsDiagnostic): Promise<TsCodeFix[]> {
    return this.request<TsCodeFix[]>('getCodeFixes', { file, startLine: d.start.line, startOffset: d.start.offset, endLine: d.end.line, endOffset: d.end.offset, errorCodes: [d.code] });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.write(`${JSON.stringify({ seq: ++this.seq, type: 'request', command: 'exit' })}\n`);
    this.child.stdin.end();
    await exited;
  }
}
