/**
 * Runs the Debian mosquitto-clients tools (mosquitto_pub, mosquitto_sub)
 * against a test broker on 127.0.0.1, each with a hard timeout; a refused
 * CONNECT makes a tool exit with the CONNACK's code (3.1.1 return code, 5.0
 * reason code) and print `received CONNACK (code)`. mosquitto_sub
 * runs with -d (and a line-buffered stdout, via stdbuf) so the test can wait
 * for its SUBACK instead of sleeping, and with -F so each message is one
 * parseable line. Without stdbuf, `subscribed` only resolves at exit. Runs
 * on the test process's main thread; the tools are child processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { uniqueId, type Version } from './clients.js';

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SubMessage {
  topic: string;
  qos: number;
  retain: boolean;
  payload: string;
}

// No '@' or '%': both are format escapes for -F.
const MESSAGE_MARK = '=MSG=';

const HAS_STDBUF = !spawnSync('stdbuf', ['--version'], { stdio: 'ignore' }).error;

/** True when mosquitto_pub and mosquitto_sub are on the PATH. */
export function mosquittoAvailable(): boolean {
  const pub = spawnSync('mosquitto_pub', ['--help'], { stdio: 'ignore' });
  const sub = spawnSync('mosquitto_sub', ['--help'], { stdio: 'ignore' });
  return !pub.error && !sub.error;
}

function versionArg(version: Version): string {
  return version === 5 ? 'mqttv5' : 'mqttv311';
}

/** The arguments both tools take alike: broker address, protocol version, client id (default `<idPrefix>-…`), username, QoS, topic. */
function commonArgs(
  o: { port: number; topic: string; qos?: 0 | 1 | 2; version?: Version; clientId?: string; username?: string },
  idPrefix: string,
): string[] {
  const args = ['-h', '127.0.0.1', '-p', String(o.port), '-V', versionArg(o.version ?? 4), '-i', o.clientId ?? uniqueId(idPrefix)];
  if (o.username !== undefined) args.push('-u', o.username);
  return [...args, '-q', String(o.qos ?? 0), '-t', o.topic];
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): { child: ReturnType<typeof spawn>; done: Promise<ToolResult>; stdout: () => string } {
  // A piped stdout is block-buffered: without stdbuf -oL, mosquitto_sub's "received SUBACK"
  // line would only show up when it exits, far too late to be a subscription barrier.
  const child = HAS_STDBUF
    ? spawn('stdbuf', ['-oL', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<ToolResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout };
}

export interface PubOptions {
  port: number;
  topic: string;
  message: string;
  qos?: 0 | 1 | 2;
  version?: Version;
  retain?: boolean;
  clientId?: string;
  /** -u: the username of the CONNECT (none by default). */
  username?: string;
  /** -P: its password. */
  password?: string;
  timeoutMs?: number;
}

/** Runs mosquitto_pub once; resolves with its exit status and output. */
export function mosquittoPub(o: PubOptions): Promise<ToolResult> {
  const args = [...commonArgs(o, 'mpub'), '-m', o.message, '-d'];
  if (o.retain) args.push('-r');
  if (o.password !== undefined) args.push('-P', o.password);
  return run('mosquitto_pub', args, o.timeoutMs ?? 15_000).done;
}

export interface SubOptions {
  port: number;
  topic: string;
  qos?: 0 | 1 | 2;
  version?: Version;
  /** -C: exit after this many messages (default 1). */
  count?: number;
  /** -W: give up after this many seconds (default 10). */
  waitSeconds?: number;
  clientId?: string;
  /** -u: the username of the CONNECT (none by default). */
  username?: string;
  timeoutMs?: number;
}

export interface SubHandle {
  /** Resolves once mosquitto_sub has printed that it received its SUBACK. */
  subscribed: Promise<void>;
  /** Resolves when mosquitto_sub exits, with the messages it printed. */
  done: Promise<ToolResult & { messages: SubMessage[] }>;
  kill(): void;
}

/** Starts mosquitto_sub -C count -W waitSeconds; see SubHandle. */
export function mosquittoSub(o: SubOptions): SubHandle {
  const args = [
    ...commonArgs(o, 'msub'),
    '-C',
    String(o.count ?? 1),
    '-W',
    String(o.waitSeconds ?? 10),
    '-F',
    `${MESSAGE_MARK}\t%t\t%q\t%r\t%p`,
    '-d',
  ];
  const timeoutMs = o.timeoutMs ?? (o.waitSeconds ?? 10) * 1000 + 5_000;
  const proc = run('mosquitto_sub', args, timeoutMs);
  const subscribed = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (/received SUBACK/.test(proc.stdout())) {
        proc.child.stdout!.off('data', check);
        resolve();
      }
    };
    proc.child.stdout!.on('data', check);
    proc.done.then(
      (r) => reject(new Error(`mosquitto_sub exited (code ${r.code}) before its SUBACK\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)),
      reject,
    );
  });
  // Never leave a rejection unhandled when the test only awaits `done`.
  subscribed.catch(() => {});
  const done = proc.done.then((r) => ({ ...r, messages: parseMessages(r.stdout) }));
  return { subscribed, done, kill: () => proc.child.kill('SIGKILL') };
}

function parseMessages(stdout: string): SubMessage[] {
  const out: SubMessage[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(MESSAGE_MARK)) continue;
    const [, topic = '', qos = '0', retain = '0', ...payload] = line.split('\t');
    out.push({ topic, qos: Number(qos), retain: retain === '1', payload: payload.join('\t') });
  }
  return out;
}
