/**
 * Runs the azure-servicebus samples in this folder (Debian's python3-azure with python3-uamqp, under
 * /usr/bin/python3) against an EmbeddedBroker in Service Bus mode, and keeps what they sent.
 *
 * Used by oracle.spec.ts and by any test that compares another client's frames with the Python
 * client's: `runSample(name, broker)` returns the sample's `RESULT` lines, and
 * `broker.capturedFrames()` then holds every frame the Python client sent.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSelfSignedCertificate, type EmbeddedBroker, type Json, type ServiceBusModeOptions } from 'rhea-rx/testing';
import { EmbeddedBroker as Broker } from 'rhea-rx/testing';

export const PYTHON = '/usr/bin/python3';
export const SAMPLES_DIR = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** Where the Python client's normalized frames are written at test time (git-ignored, no secrets). */
export const CAPTURE_DIR = join(ROOT, '.brokers', 'servicebus', 'captures');

/** The key the samples' connection strings use. */
export const KEY_NAME = 'RootManageSharedAccessKey';
/** A fresh random key per run (so nothing secret is ever fixed in the repository). */
export const KEY = randomBytes(32).toString('base64');

/** The entities every sample may use. */
export const ENTITIES = { queues: ['queue'], sessionQueues: ['session-queue'], topics: { topic: ['sub'] } };

let certificate: { key: string; cert: string; caFile: string } | undefined;

/** One self-signed certificate per test process, its PEM written to a temp file for the client. */
export function testCertificate(): { key: string; cert: string; caFile: string } {
  if (!certificate) {
    const { key, cert } = createSelfSignedCertificate();
    const dir = mkdtempSync(join(tmpdir(), 'rhea-rx-sb-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, cert);
    certificate = { key, cert, caFile };
  }
  return certificate;
}

/** Starts a Service Bus mode broker with TLS, frame capture and the sample entities. */
export async function startServiceBusBroker(options: Partial<ServiceBusModeOptions> = {}): Promise<EmbeddedBroker> {
  const { key, cert } = testCertificate();
  return Broker.start({
    tls: { key, cert },
    captureFrames: true,
    serviceBus: { keys: { [KEY_NAME]: KEY }, entities: ENTITIES, ...options },
  });
}

let availability: Promise<string | undefined> | undefined;

/** Undefined when the oracle can run, else why not. */
export function whyOracleUnavailable(): Promise<string | undefined> {
  availability ??= new Promise((resolve) => {
    execFile(PYTHON, ['-c', 'import azure.servicebus, uamqp; print(azure.servicebus.__version__, uamqp.__version__)'], (err, stdout, stderr) => {
      if (err) {
        resolve(
          `${PYTHON} cannot import azure.servicebus and uamqp (install python3-azure python3-uamqp, e.g. scripts/install-brokers.sh): ${String(stderr || err.message).trim().split('\n').at(-1) ?? ''}`,
        );
      } else resolve(undefined);
    });
  });
  return availability;
}

export interface SampleRun {
  code: number | null;
  results: Array<Record<string, Json>>;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `<name>.py` against `broker` and collects its `RESULT` lines. */
export function runSample(
  name: string,
  broker: EmbeddedBroker,
  options: { env?: Record<string, string>; args?: string[]; timeoutMs?: number; connectionString?: string } = {},
): Promise<SampleRun> {
  const started = Date.now();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PYTHONDONTWRITEBYTECODE: '1',
    // The Endpoint without the port (as a namespace's is); the port goes separately (see sbharness.py).
    SB_CONNECTION_STRING: options.connectionString ?? broker.serviceBus.connectionString(KEY_NAME).replace(/:\d+\/;/, '/;'),
    SB_PORT: String(broker.port),
    SB_CA_FILE: testCertificate().caFile,
    ...options.env,
  };
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [join(SAMPLES_DIR, `${name}.py`), ...(options.args ?? [])],
      { env, cwd: SAMPLES_DIR, timeout: options.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        const results = stdout
          .split('\n')
          .filter((line) => line.startsWith('RESULT '))
          .map((line) => JSON.parse(line.slice('RESULT '.length)) as Record<string, Json>);
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, results, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** Runs a sample that needs no broker (sas_token.py). */
export function runPython(name: string, args: string[]): Promise<SampleRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(PYTHON, [join(SAMPLES_DIR, `${name}.py`), ...args], { cwd: SAMPLES_DIR, timeout: 30_000 }, (err, stdout, stderr) => {
      const results = stdout
        .split('\n')
        .filter((line) => line.startsWith('RESULT '))
        .map((line) => JSON.parse(line.slice('RESULT '.length)) as Record<string, Json>);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, results, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Writes the broker's normalized captured frames as `python-<name>.json` under {@link CAPTURE_DIR}. */
export function writeCapture(name: string, broker: EmbeddedBroker): string {
  mkdirSync(CAPTURE_DIR, { recursive: true });
  const file = join(CAPTURE_DIR, `python-${name}.json`);
  writeFileSync(file, `${JSON.stringify(broker.capturedFrames(), null, 1)}\n`);
  return file;
}
