/**
 * The peer registry: which AMQP 1.0 peers a test run uses, what each of them can do, and a helper that
 * runs one `describe` per selected peer, skipping — visibly, with the reason in the test name — where a
 * peer lacks a capability the tests need.
 *
 * Peers:
 *  - `embedded`: the project's own EmbeddedBroker, started by each test (see `usePeer`).
 *  - `rabbitmq`: RabbitMQ 3.10 with rabbitmq_amqp1_0, one isolated node per run (scripts/rabbitmq.sh).
 *  - `proton-c`: the Qpid Proton C example broker, one per run (scripts/proton-broker.sh).
 *  - `rabbitmq-cluster`: a 3-node RabbitMQ 3.10 cluster with quorum queues (scripts/rabbitmq-cluster.sh).
 *    Opt-in: selected only when PEERS names it (or is `all`). Started by the test files that use it
 *    (test/cluster), in their own `beforeAll`, not by global setup, and not offered to `forEachPeer`:
 *    see `selfStartedPeer`.
 *
 * Real peers are started once per run by test/support/globalSetup.ts, which hands their URLs to the
 * tests through vitest's provide/inject (`inject('peers')`).
 *
 * Selection (env):
 *  - `PEERS=embedded,rabbitmq,proton-c` (or `all`) picks peers explicitly.
 *  - Default: `embedded` plus every real peer installed on this machine.
 *  - `REQUIRE_BROKERS=1` (CI): default is every peer, and a selected peer that is not installed fails
 *    the run instead of being skipped.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, inject, it } from 'vitest';

export type PeerName = 'embedded' | 'rabbitmq' | 'proton-c' | 'rabbitmq-cluster';
export const PEER_NAMES: readonly PeerName[] = ['embedded', 'rabbitmq', 'proton-c', 'rabbitmq-cluster'];
/** Peers test files start for themselves (too heavy for every run): never in a default selection. */
export const SELF_STARTED_PEERS: readonly PeerName[] = ['rabbitmq-cluster'];
/** Real peers global setup starts once per run and shares. */
export const REAL_PEERS: readonly Exclude<PeerName, 'embedded' | 'rabbitmq-cluster'>[] = ['rabbitmq', 'proton-c'];

/**
 * What a peer does, one fact per flag. A flag that is `true` is the behaviour the AMQP 1.0 spec (and
 * EmbeddedBroker) gives; the only exception is `attachErrorEndsSession`, a quirk flag.
 */
export interface PeerCaps {
  /** Deliveries arrive unsettled, so a receiver's accept/reject/release/modify reach the peer. */
  readonly outcomes: boolean;
  /** `released` requeues the message for redelivery. */
  readonly released: boolean;
  /** The `modified` outcome is understood (requeue, delivery-failed, undeliverable-here). */
  readonly modified: boolean;
  /** `modified { deliveryFailed: true }` increments the message's delivery-count on redelivery. */
  readonly deliveryCount: boolean;
  /**
   * `released` increments delivery-count. The spec says it MUST NOT (3.4.4), so this is `false` on a
   * faithful peer; it is listed so tests can state what they rely on.
   */
  readonly releasedBumpsDeliveryCount: boolean;
  /** A drain while credit is left over is answered (credit consumed, flow echoed). */
  readonly drainWithCredit: boolean;
  /** Attach with a dynamic source (temporary queue, e.g. for reply-to). */
  readonly dynamicSource: boolean;
  /** A sender link with no target (anonymous relay, address taken from each message's `to`). */
  readonly anonymousRelay: boolean;
  /** A rejected message is dead-lettered with no configuration (no policy needed). */
  readonly rejectedDeadLetters: boolean;
  /** A rejected message can be made to land in a dead-letter queue (by default or by a policy). */
  readonly deadLettering: boolean;
  /** The peer may answer a sent message with `rejected`. */
  readonly rejectedToSender: boolean;
  /** Quirk: a refused attach ends the whole session (every sibling link dies), not just the link. */
  readonly attachErrorEndsSession: boolean;
  /** SASL PLAIN (username/password) is accepted. */
  readonly saslPlain: boolean;
  /** The open frame carries `product` and `version` properties. */
  readonly openProperties: boolean;
  /** Topics / fan-out to several receivers. */
  readonly topics: boolean;
  /**
   * The peer never sends a receiver more deliveries than the credit it granted, also when a flow
   * crosses deliveries already on their way (it reckons credit from the flow's delivery-count, 2.6.7).
   */
  readonly exactCredit: boolean;
}

export type CapName = keyof PeerCaps;

const ALL: PeerCaps = {
  outcomes: true,
  released: true,
  modified: true,
  deliveryCount: true,
  releasedBumpsDeliveryCount: false,
  drainWithCredit: true,
  dynamicSource: true,
  anonymousRelay: true,
  rejectedDeadLetters: true,
  deadLettering: true,
  rejectedToSender: true,
  attachErrorEndsSession: false,
  saslPlain: true,
  openProperties: true,
  topics: true,
  exactCredit: true,
};

/** Capabilities per peer (see ../shared/brokers.md for how each RabbitMQ/Proton fact was verified). */
export const PEER_CAPS: Readonly<Record<PeerName, PeerCaps>> = {
  embedded: ALL,
  rabbitmq: {
    ...ALL,
    modified: false, // any modified ends the session with amqp:invalid-field
    deliveryCount: false, // never incremented
    drainWithCredit: false, // session ended with amqp:internal-error on classic queues
    dynamicSource: false, // amqp:not-implemented
    anonymousRelay: false, // amqp:invalid-field
    rejectedDeadLetters: false, // dropped unless a dead-letter policy exists
    rejectedToSender: false, // a nacked publish crashes the session, then the TCP connection resets
    attachErrorEndsSession: true, // not-found on attach arrives as a session error
    // A flow that crosses deliveries in flight is taken as fresh credit: a receiver settling as it
    // goes gets more than it granted (rhea logs "Received transfer when credit was 0"); measured up
    // to ~2.5x a credit of 100 (test/brokers/invariants.spec.ts, R1).
    exactCredit: false,
  },
  // The same broker, clustered: every fact of the single node holds on each of its nodes.
  'rabbitmq-cluster': {
    ...ALL,
    modified: false,
    deliveryCount: false,
    drainWithCredit: false,
    dynamicSource: false,
    anonymousRelay: false,
    rejectedDeadLetters: false,
    rejectedToSender: false,
    attachErrorEndsSession: true,
    exactCredit: false,
  },
  'proton-c': {
    ...ALL,
    outcomes: false, // pre-settles every delivery it sends
    released: false,
    modified: false,
    deliveryCount: false,
    drainWithCredit: false, // the example broker never answers a drain
    dynamicSource: false, // attaching one crashes the example broker (NULL address)
    anonymousRelay: false, // sending on a link without target crashes the example broker
    rejectedDeadLetters: false,
    deadLettering: false,
    rejectedToSender: false, // accepts everything
    saslPlain: false, // SASL ANONYMOUS only
    openProperties: false, // no product/version in its open frame
    topics: false, // queues only
  },
};

/** Why a peer lacks a capability: printed in the name of the skipped test. */
const MISSING_REASON: Readonly<Record<CapName, string>> = {
  outcomes: 'no outcomes (it pre-settles what it sends)',
  released: 'no released outcome',
  modified: 'no modified outcome',
  deliveryCount: 'delivery-count never incremented',
  releasedBumpsDeliveryCount: 'released does not bump delivery-count',
  drainWithCredit: 'no drain with credit left over',
  dynamicSource: 'no dynamic source',
  anonymousRelay: 'no anonymous relay',
  rejectedDeadLetters: 'rejected messages are dropped without a dead-letter policy',
  deadLettering: 'no dead-lettering',
  rejectedToSender: 'never sends rejected to a sender',
  attachErrorEndsSession: 'attach errors do not end the session',
  saslPlain: 'no SASL PLAIN',
  openProperties: 'no product/version in the open frame',
  topics: 'no topics',
  exactCredit: 'sends more than the credit granted when a flow crosses deliveries in flight',
};

/** Why a peer has a quirk flag set: printed when a test lists it in `unless`. */
const PRESENT_REASON: Partial<Record<CapName, string>> = {
  attachErrorEndsSession: 'attach errors end the whole session',
  releasedBumpsDeliveryCount: 'released bumps delivery-count',
};

/** What global setup learnt about a running real peer. */
export interface RunningPeer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** From the open frame, where the peer sends it. */
  readonly product: string | null;
  readonly version: string | null;
}

/** The value global setup provides under `inject('peers')`. */
export interface ProvidedPeers {
  /** Peers selected for this run, in order (including those skipped). */
  readonly selected: PeerName[];
  /** Real peers that are up, by name. */
  readonly running: Partial<Record<PeerName, RunningPeer>>;
  /** Selected peers that are not available, with the reason. */
  readonly unavailable: Partial<Record<PeerName, string>>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    peers: ProvidedPeers;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
export const PROTON_BROKER = `${ROOT}.brokers/bin/proton-broker`;
export const DEFAULT_PORTS = { rabbitmq: 5679, 'proton-c': 5680 } as const;

/**
 * Key on `globalThis` (main process) under which global setup lists why it failed, so that the count
 * reporter reports a run that failed before any test as failed.
 */
export const SETUP_FAILURES = Symbol.for('rhea-rx.test.setupFailures');

/** `true` when `REQUIRE_BROKERS` is set to 1/true: missing real peers fail the run. */
export function brokersRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.REQUIRE_BROKERS ?? '');
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `undefined` when the peer can run on this machine, else why it cannot. */
export function whyNotInstalled(name: PeerName): string | undefined {
  switch (name) {
    case 'embedded':
      return undefined;
    case 'rabbitmq':
    case 'rabbitmq-cluster':
      return executable(RABBITMQ_SERVER)
        ? undefined
        : `RabbitMQ is not installed (${RABBITMQ_SERVER} missing; run scripts/install-brokers.sh as root)`;
    case 'proton-c':
      return executable(PROTON_BROKER)
        ? undefined
        : `the Proton C broker is not built (${PROTON_BROKER} missing; run scripts/install-brokers.sh as root)`;
  }
}

function parsePeerList(value: string): PeerName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') return [...PEER_NAMES];
  const out: PeerName[] = [];
  for (const name of names) {
    if (!(PEER_NAMES as readonly string[]).includes(name)) {
      throw new Error(`PEERS: unknown peer '${name}' (expected a comma list of ${PEER_NAMES.join(', ')}, or 'all')`);
    }
    if (!out.includes(name as PeerName)) out.push(name as PeerName);
  }
  if (out.length === 0) throw new Error(`PEERS is empty (expected a comma list of ${PEER_NAMES.join(', ')}, or 'all')`);
  return out;
}

/**
 * The peers this run is meant to use, from `PEERS` (a comma list or `all`). Without `PEERS`:
 * every peer when `REQUIRE_BROKERS=1`, else `embedded` plus the real peers installed here — in both
 * cases without the opt-in `SELF_STARTED_PEERS`, which run only when `PEERS` names them.
 */
export function selectedPeers(env: NodeJS.ProcessEnv = process.env): PeerName[] {
  const explicit = env.PEERS?.trim();
  if (explicit) return parsePeerList(explicit);
  const shared = PEER_NAMES.filter((name) => !SELF_STARTED_PEERS.includes(name));
  if (brokersRequired(env)) return shared;
  return shared.filter((name) => whyNotInstalled(name) === undefined);
}

/**
 * Whether the tests of a peer that a test file starts for itself (`SELF_STARTED_PEERS`) run:
 * `undefined` when it is selected and installed, else the reason to skip them, also printed.
 * @throws when it is selected but not installed and `REQUIRE_BROKERS=1` (CI): the file fails.
 */
export function selfStartedPeer(name: PeerName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!SELF_STARTED_PEERS.includes(name)) throw new Error(`${name} is started by global setup, not by a test file`);
  let reason: string | undefined;
  if (!selectedPeers(env).includes(name)) {
    reason = `${name} not selected (PEERS=${env.PEERS ?? ''}; add ${name} to run it)`;
  } else {
    const missing = whyNotInstalled(name);
    if (missing !== undefined && brokersRequired(env)) {
      throw new Error(`REQUIRE_BROKERS=1 and PEERS selects ${name}, but ${missing}`);
    }
    reason = missing;
  }
  if (reason !== undefined) process.stderr.write(`[peers] SKIPPING every test on ${name}: ${reason}\n`);
  return reason;
}

/** What tests get for each peer. */
export interface Peer {
  readonly name: PeerName;
  readonly caps: PeerCaps;
  /** `true` for RabbitMQ and the Proton C broker, `false` for the embedded broker. */
  readonly real: boolean;
  /**
   * The URL of the shared real peer, e.g. `amqp://127.0.0.1:5679`. The embedded peer has no shared URL
   * (each test starts its own broker): reading it throws; use `usePeer(peer).url` instead.
   */
  readonly url: string;
  /** The open frame's product/version of a real peer, where it sends them. */
  readonly product: string | null;
  readonly version: string | null;
  /**
   * A node address for a queue on this peer, unique per call: `/queue/NAME-xxxx` on RabbitMQ
   * (declared on attach), `NAME-xxxx` elsewhere. Real peers are shared by the whole run, so tests
   * use fresh queues.
   */
  queue(base: string): string;
}

let counter = 0;
function uniqueName(base: string): string {
  counter += 1;
  return `${base}-${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`;
}

function provided(): ProvidedPeers {
  let value: ProvidedPeers | undefined;
  try {
    value = inject('peers');
  } catch {
    value = undefined;
  }
  if (value) return value;
  // No global setup ran (another config): only the embedded peer is usable.
  const selected = selectedPeers();
  const unavailable: Partial<Record<PeerName, string>> = {};
  for (const name of selected) if (name !== 'embedded') unavailable[name] = 'global setup did not start it';
  return { selected, running: {}, unavailable };
}

function makePeer(name: PeerName, running: RunningPeer | undefined): Peer {
  const real = name !== 'embedded';
  return {
    name,
    caps: PEER_CAPS[name],
    real,
    get url(): string {
      if (!real) {
        throw new Error("the embedded peer has no shared URL: call usePeer(peer) in the describe and read .url in tests");
      }
      // A skipped peer still gets its describe collected: give it the URL it would have had.
      return running?.url ?? `amqp://127.0.0.1:${DEFAULT_PORTS[name as keyof typeof DEFAULT_PORTS]}`;
    },
    product: running?.product ?? null,
    version: running?.version ?? null,
    queue(base: string): string {
      const unique = uniqueName(base);
      return name === 'rabbitmq' ? `/queue/${unique}` : unique;
    },
  };
}

/** The selected peers with what global setup provided (skipped peers included, see `skipReason`). */
export function peers(): { peer: Peer; unavailable: string | undefined }[] {
  const p = provided();
  return p.selected.filter((name) => !SELF_STARTED_PEERS.includes(name)).map((name) => ({
    peer: makePeer(name, p.running[name]),
    unavailable: p.unavailable[name] ?? (name !== 'embedded' && !p.running[name] ? 'not started' : undefined),
  }));
}

export interface ForEachPeerOptions {
  /** Capabilities the tests rely on: peers without all of them are skipped, with the reason. */
  readonly needs?: readonly CapName[];
  /** Quirks the tests cannot live with: peers with any of them are skipped, with the reason. */
  readonly unless?: readonly CapName[];
  /** Run only on these peers (when selected), e.g. `['rabbitmq']` for a broker-specific test. */
  readonly only?: readonly PeerName[];
}

/** `undefined` when `peer` can run tests with these options, else the reason to skip. */
export function skipReason(peer: Peer, options: ForEachPeerOptions = {}): string | undefined {
  const missing = (options.needs ?? []).filter((cap) => !peer.caps[cap]).map((cap) => MISSING_REASON[cap]);
  const present = (options.unless ?? [])
    .filter((cap) => peer.caps[cap])
    .map((cap) => PRESENT_REASON[cap] ?? `has ${cap}`);
  const reasons = [...missing, ...present];
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/**
 * One `describe(`${title} [${peer}]`)` per selected peer, calling `body(peer)` to declare its tests.
 * A peer that lacks a capability in `needs`, has a quirk in `unless`, or is not running gets a
 * `describe.skip` named `${title} [skipped on ${peer}: ${reason}]` (its tests are still collected, so
 * they show up as skipped). When no selected peer qualifies (e.g. `only: ['rabbitmq']` with
 * `PEERS=embedded`) one skipped test says so, so the file is never empty.
 */
export function forEachPeer(title: string, body: (peer: Peer) => void, options: ForEachPeerOptions = {}): void {
  let declared = 0;
  for (const { peer, unavailable } of peers()) {
    if (options.only && !options.only.includes(peer.name)) continue;
    declared += 1;
    const reason = unavailable ?? skipReason(peer, options);
    if (reason === undefined) {
      describe(`${title} [${peer.name}]`, () => body(peer));
    } else {
      describe.skip(`${title} [skipped on ${peer.name}: ${reason}]`, () => body(peer));
    }
  }
  if (declared === 0) {
    const wanted = options.only ? options.only.join(', ') : 'any peer';
    describe.skip(`${title} [skipped: ${wanted} not selected (PEERS=${process.env.PEERS ?? ''})]`, () => {
      it.skip('needs a peer that is not selected', () => {});
    });
  }
}

/** A broker for one test: the shared real peer, or an EmbeddedBroker of its own. */
export interface PeerHandle {
  /** Valid inside tests (after `beforeEach`). */
  readonly url: string;
}

interface EmbeddedLike {
  readonly url: string;
  stop(): Promise<void>;
}

// Resolved at run time through vitest's alias, so this file does not depend on the library's build.
const TESTING_ENTRY = 'rhea-rx/testing';

async function startEmbedded(): Promise<EmbeddedLike> {
  const mod = (await import(/* @vite-ignore */ TESTING_ENTRY)) as {
    EmbeddedBroker?: { start(options?: unknown): Promise<EmbeddedLike> };
  };
  if (!mod.EmbeddedBroker) throw new Error(`${TESTING_ENTRY} does not export EmbeddedBroker`);
  return mod.EmbeddedBroker.start();
}

function reachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function runPeerScript(script: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(`${ROOT}scripts/${script}`, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

/**
 * Checks that a shared real peer still listens. The Proton C example broker dies on some inputs
 * (a dynamic source, an anonymous-relay send): it is restarted (in ~0.1 s, empty) so that one test's
 * crash does not fail every later test. A RabbitMQ that is gone is an error.
 */
export async function ensurePeerAlive(peer: Peer): Promise<void> {
  if (!peer.real || (await reachable(peer.url))) return;
  const port = new URL(peer.url).port;
  if (peer.name === 'proton-c') {
    const r = await runPeerScript('proton-broker.sh', ['start', port]);
    if (await reachable(peer.url)) {
      process.stderr.write(`[peers] proton-c on ${peer.url} had died (an earlier test crashed it?): restarted\n`);
      return;
    }
    throw new Error(`proton-c on ${peer.url} died and did not restart: ${r.output}`);
  }
  throw new Error(`${peer.name} on ${peer.url} is not reachable any more (see .brokers/ for its logs)`);
}

/**
 * Registers `beforeEach`/`afterEach` in the current describe: the embedded peer gets a fresh
 * `EmbeddedBroker` per test (stopped after it); a real peer is the one shared for the run (checked
 * to be alive before each test, see `ensurePeerAlive`).
 */
export function usePeer(peer: Peer): PeerHandle {
  let url: string | undefined;
  let broker: EmbeddedLike | undefined;
  beforeEach(async () => {
    if (peer.real) {
      await ensurePeerAlive(peer);
      url = peer.url;
    } else {
      broker = await startEmbedded();
      url = broker.url;
    }
  });
  afterEach(async () => {
    const b = broker;
    broker = undefined;
    url = undefined;
    await b?.stop();
  });
  return {
    get url(): string {
      if (url === undefined) throw new Error('usePeer(peer).url is only available inside a test');
      return url;
    },
  };
}

/** Runs `rabbitmqctl ARGS...` against the run's RabbitMQ node (same env as the node). */
export function rabbitmqctl(...args: string[]): Promise<string> {
  const running = provided().running.rabbitmq;
  if (!running) return Promise.reject(new Error('rabbitmqctl: RabbitMQ is not running in this test run'));
  return new Promise((resolve, reject) => {
    execFile(
      `${ROOT}scripts/rabbitmq.sh`,
      ['ctl', String(running.port), ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}
