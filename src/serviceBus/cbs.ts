import type { ConnectionManager } from '../client/ConnectionManager.js';
import { AmqpError } from '../errors/AmqpError.js';
import { AuthenticationError } from '../errors/errors.js';
import { type AmqpConnection as Connection, RequestResponseLink, type Response } from './amqp.js';
import { CBS_NODE, tokenTypes } from './constants.js';
import { managementError } from './errors.js';
import { log } from './log.js';
import type { AccessToken, TokenProvider } from './sasToken.js';

/** Options of {@link CbsAuthorizer}. */
export interface CbsOptions {
  /** How long a `put-token` may take, in milliseconds. */
  readonly timeout: number;
  /** The clock (tests). @default Date.now */
  readonly now?: () => number;
}

/** What the authorizer knows about one audience. */
interface Claim {
  /** The last token obtained, reused on a new connection while it is fresh. */
  token: AccessToken | undefined;
  /** When that token was obtained (for the refresh point). */
  obtainedAt: number;
  /** The connection the token was last put on. */
  connection: Connection | undefined;
  /** A put in flight, per connection. */
  putting: Map<Connection, Promise<void>>;
  refreshTimer: NodeJS.Timeout | undefined;
}

/** The longest a token is used before it is refreshed early: five minutes before it expires, or a quarter of its life when shorter. */
const MAX_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Claims-based authorization (AMQP CBS) for one client: puts a token for each entity's audience on
 * the `$cbs` node before the first link to that entity attaches, again on every new connection
 * (before the connection is handed to any link, through the connection manager's before-open
 * hook), and again before each token expires.
 *
 * A `put-token` request is a message whose body is the token, with application properties
 * `operation: put-token`, `type` (the token type) and `name` (the audience) — the fields uAMQP
 * sends for azure-servicebus. Status 200 or 202 is success; 401 fails with
 * `AuthenticationError`, which the connection does not retry (C2). No token is ever logged (C3).
 */
export class CbsAuthorizer {
  readonly #manager: ConnectionManager;
  readonly #provider: TokenProvider;
  readonly #tokenType: string;
  readonly #timeout: number;
  readonly #now: () => number;
  readonly #claims = new Map<string, Claim>();
  readonly #removers: Array<() => void> = [];
  #link: RequestResponseLink | undefined;
  /** The connection the manager handed out last; refreshes go there. */
  #connection: Connection | undefined;
  #closed = false;

  constructor(manager: ConnectionManager, provider: TokenProvider, options: CbsOptions) {
    this.#manager = manager;
    this.#provider = provider;
    this.#tokenType = provider.tokenType ?? tokenTypes.jwt;
    this.#timeout = options.timeout;
    this.#now = options.now ?? Date.now;
    this.#removers.push(
      manager.beforeOpen((connection) => this.#onNewConnection(connection)),
      manager.watch({
        lost: () => this.#dropConnection(),
        restored: () => undefined,
        failed: () => this.#dropConnection(),
      }),
    );
  }

  /**
   * Makes sure a valid token for `audience` is on the connection links will use: registers the
   * audience (so it is put on every new connection and refreshed), opens the connection if need
   * be, and puts a token unless a fresh one is there already.
   *
   * @throws {@link AuthenticationError} when the service refuses the token; the provider's own error when it fails.
   */
  async authorize(audience: string): Promise<void> {
    if (this.#closed) throw new AmqpError('The Service Bus client is closed');
    if (!this.#claims.has(audience)) {
      this.#claims.set(audience, { token: undefined, obtainedAt: 0, connection: undefined, putting: new Map(), refreshTimer: undefined });
    }
    // A new connection runs #onNewConnection first, which puts the tokens of every known audience.
    const connection = await this.#manager.acquire();
    const claim = this.#claims.get(audience);
    if (claim === undefined) return; // closed meanwhile
    if (claim.connection === connection && this.#fresh(claim)) return;
    await this.#put(connection, audience, claim);
  }

  /** Stops refreshing and closes the `$cbs` links. */
  close(): void {
    this.#closed = true;
    for (const claim of this.#claims.values()) clearTimeout(claim.refreshTimer);
    this.#claims.clear();
    for (const remove of this.#removers) remove();
    this.#removers.length = 0;
    this.#link?.close();
    this.#link = undefined;
  }

  /** Puts the token of every known audience on a connection the manager is about to hand out. */
  async #onNewConnection(connection: Connection): Promise<void> {
    this.#connection = connection;
    const audiences = [...this.#claims.keys()];
    if (audiences.length > 0) log.cbs('authorizing %d audience(s) on a new connection', audiences.length);
    for (const audience of audiences) {
      const claim = this.#claims.get(audience);
      if (claim !== undefined) await this.#put(connection, audience, claim);
    }
  }

  #dropConnection(): void {
    this.#connection = undefined;
    this.#link?.lost();
    this.#link = undefined;
  }

  #fresh(claim: Claim): boolean {
    return claim.token !== undefined && this.#now() < this.#refreshAt(claim);
  }

  #refreshAt(claim: Claim): number {
    const expires = claim.token?.expiresOnTimestamp ?? 0;
    const life = Math.max(0, expires - claim.obtainedAt);
    return expires - Math.min(MAX_REFRESH_MARGIN_MS, life / 4);
  }

  #put(connection: Connection, audience: string, claim: Claim): Promise<void> {
    const inFlight = claim.putting.get(connection);
    if (inFlight !== undefined) return inFlight;
    const putting = this.#putNow(connection, audience, claim).finally(() => claim.putting.delete(connection));
    claim.putting.set(connection, putting);
    return putting;
  }

  async #putNow(connection: Connection, audience: string, claim: Claim): Promise<void> {
    if (!this.#fresh(claim)) {
      const token = await this.#provider.getToken(audience);
      if (token === null || typeof token !== 'object' || typeof token.token !== 'string' || typeof token.expiresOnTimestamp !== 'number') {
        throw new AuthenticationError(`The token provider gave no token for '${audience}' (expected { token: string, expiresOnTimestamp: number })`);
      }
      claim.token = token;
      claim.obtainedAt = this.#now();
    }
    const token = claim.token!;
    const link = this.#linkFor(connection);
    const what = `put-token for '${audience}'`;
    const response: Response = await link.request({
      body: token.token,
      applicationProperties: { operation: 'put-token', type: this.#tokenType, name: audience },
      timeout: this.#timeout,
      what,
    });
    if (response.status !== 200 && response.status !== 202) {
      throw managementError(what, response.status ?? 0, response.condition, response.description, 'cbs');
    }
    claim.connection = connection;
    log.cbs('token for %s accepted; it expires at %s', audience, new Date(token.expiresOnTimestamp).toISOString());
    this.#scheduleRefresh(audience, claim);
  }

  #linkFor(connection: Connection): RequestResponseLink {
    if (this.#link !== undefined && (this.#link.connection !== connection || this.#link.isClosed)) {
      this.#link.close();
      this.#link = undefined;
    }
    this.#link ??= new RequestResponseLink(connection, { node: CBS_NODE, replyTo: undefined });
    return this.#link;
  }

  #scheduleRefresh(audience: string, claim: Claim, delay?: number): void {
    clearTimeout(claim.refreshTimer);
    const wait = Math.max(0, delay ?? this.#refreshAt(claim) - this.#now());
    claim.refreshTimer = setTimeout(() => void this.#refresh(audience, claim), Math.min(wait, 2_147_483_647));
    // A refresh must not keep the process alive on its own: the links it serves do.
    claim.refreshTimer.unref?.();
  }

  async #refresh(audience: string, claim: Claim): Promise<void> {
    const connection = this.#connection;
    if (this.#closed || connection === undefined || this.#claims.get(audience) !== claim) return; // the next connection puts a fresh one
    const expiresOn = claim.token?.expiresOnTimestamp ?? 0;
    claim.token = undefined; // get a new one
    try {
      await this.#put(connection, audience, claim);
    } catch (error) {
      const left = expiresOn - this.#now();
      log.cbs('refreshing the token for %s failed: %s', audience, error instanceof Error ? error.message : String(error));
      // Try again while the old token may still be valid; the service detaches the links once it is not.
      if (left > 0) this.#scheduleRefresh(audience, claim, Math.min(30_000, left / 2));
    }
  }
}
