/**
 * Records the AMQP frames clients send to a broker, decoded with their AMQP types, so that two
 * clients doing the same thing can be compared field by field.
 *
 * The capture taps the (decrypted) byte stream of each accepted socket — it sees exactly what the
 * client wrote, independent of how the broker's AMQP stack decodes it. Performatives are decoded
 * into named fields; the payload of a transfer (across `more` frames) is decoded into message
 * sections, and a batch (message-format 0x80013700, a Service Bus batch send) into its messages.
 *
 * Normalized frames (the default view) replace what differs from run to run or is secret:
 * uuids (anywhere, also inside strings) become `<uuid-N>`, link names `<link-N>` and container ids
 * `<container-N>` (numbered by first appearance, so equal values stay equal), timestamps
 * `<timestamp>`, delivery tags `<tag>`, the listener's port `<port>`, a SAS token's signature and
 * expiry `<signature>` and `<expiry>`, a SASL PLAIN password `<secret>`.
 */
import type { Socket } from 'node:net';
import { type AmqpValue, AmqpDecodeError, asNumber, asString, decodeAt } from './codec.js';
import { decodeMessage, HEADER_FIELDS, type MessageSections, PROPERTY_FIELDS, sectionCode, SECTION } from './message.js';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One frame a client sent, decoded. */
export interface CapturedFrame {
  /** The client connection, numbered from 1 in the order the broker accepted them. */
  connection: number;
  /** The frame's channel (0 for protocol headers and SASL frames). */
  channel: number;
  /** `protocol-header`, a SASL frame name (`sasl-init`, …) or a performative (`attach`, `transfer`, …). */
  performative: string;
  /** The performative's fields (absent and null fields left out), typed: `{ uint: 5 }`, `{ symbol: 'x' }`, … */
  fields: { [field: string]: Json };
  /**
   * For link frames (attach, flow, transfer, detach): the link, as the client named and addressed
   * it. For a disposition the client sent as receiver: the link the settled delivery came on
   * (found from the transfers the broker sent), when `first` names one.
   */
  link?: { name: string; role: 'sender' | 'receiver'; address?: string };
  /** For the last transfer frame of a delivery: the decoded message. */
  message?: CapturedMessage;
}

/** A message a client sent, section by section. */
export interface CapturedMessage {
  /** The transfer's message-format: 0 for a plain AMQP message, 0x80013700 for a Service Bus batch. */
  format: number;
  /** The header section by field name (`durable`, `ttl`, `delivery-count`, …), typed; absent when the message has none. */
  header?: { [field: string]: Json };
  /** The delivery annotations, keyed `type:key` (e.g. `symbol:x-opt-foo`), typed; absent when the message has none. */
  deliveryAnnotations?: { [key: string]: Json };
  /** The message annotations, keyed `type:key` (e.g. `symbol:x-opt-partition-key`), typed; absent when the message has none. */
  messageAnnotations?: { [key: string]: Json };
  /** The properties section by field name (`message-id`, `to`, `group-id`, …), typed; absent when the message has none. */
  properties?: { [field: string]: Json };
  /** The application properties, keyed `type:key` (e.g. `string:region`), typed; absent when the message has none. */
  applicationProperties?: { [key: string]: Json };
  /** The body sections: `{ data: hex }`, `{ value: typed }`, `{ sequence: typed }`; a batch's data sections are its messages. */
  body: Json[];
  /** For a batch (format 0x80013700): the messages it carries. */
  batch?: CapturedMessage[];
}

/** Options of a {@link FrameCapture}. */
export interface FrameCaptureOptions {
  /** The broker's port, replaced by `<port>` wherever it appears in a string. */
  port?: number;
}

const PERFORMATIVES: Record<number, { name: string; fields: readonly string[] }> = {
  0x10: {
    name: 'open',
    fields: ['container-id', 'hostname', 'max-frame-size', 'channel-max', 'idle-time-out', 'outgoing-locales', 'incoming-locales', 'offered-capabilities', 'desired-capabilities', 'properties'],
  },
  0x11: {
    name: 'begin',
    fields: ['remote-channel', 'next-outgoing-id', 'incoming-window', 'outgoing-window', 'handle-max', 'offered-capabilities', 'desired-capabilities', 'properties'],
  },
  0x12: {
    name: 'attach',
    fields: ['name', 'handle', 'role', 'snd-settle-mode', 'rcv-settle-mode', 'source', 'target', 'unsettled', 'incomplete-unsettled', 'initial-delivery-count', 'max-message-size', 'offered-capabilities', 'desired-capabilities', 'properties'],
  },
  0x13: {
    name: 'flow',
    fields: ['next-incoming-id', 'incoming-window', 'next-outgoing-id', 'outgoing-window', 'handle', 'delivery-count', 'link-credit', 'available', 'drain', 'echo', 'properties'],
  },
  0x14: {
    name: 'transfer',
    fields: ['handle', 'delivery-id', 'delivery-tag', 'message-format', 'settled', 'more', 'rcv-settle-mode', 'state', 'resume', 'aborted', 'batchable'],
  },
  0x15: { name: 'disposition', fields: ['role', 'first', 'last', 'settled', 'state', 'batchable'] },
  0x16: { name: 'detach', fields: ['handle', 'closed', 'error'] },
  0x17: { name: 'end', fields: ['error'] },
  0x18: { name: 'close', fields: ['error'] },
  0x40: { name: 'sasl-mechanisms', fields: ['sasl-server-mechanisms'] },
  0x41: { name: 'sasl-init', fields: ['mechanism', 'initial-response', 'hostname'] },
  0x42: { name: 'sasl-challenge', fields: ['challenge'] },
  0x43: { name: 'sasl-response', fields: ['response'] },
  0x44: { name: 'sasl-outcome', fields: ['code', 'additional-data'] },
};

/** Composites that appear inside performatives. */
const COMPOSITES: Record<number, { name: string; fields: readonly string[] }> = {
  0x1d: { name: 'error', fields: ['condition', 'description', 'info'] },
  0x23: { name: 'received', fields: ['section-number', 'section-offset'] },
  0x24: { name: 'accepted', fields: [] },
  0x25: { name: 'rejected', fields: ['error'] },
  0x26: { name: 'released', fields: [] },
  0x27: { name: 'modified', fields: ['delivery-failed', 'undeliverable-here', 'message-annotations'] },
  0x28: {
    name: 'source',
    fields: ['address', 'durable', 'expiry-policy', 'timeout', 'dynamic', 'dynamic-node-properties', 'distribution-mode', 'filter', 'default-outcome', 'outcomes', 'capabilities'],
  },
  0x29: { name: 'target', fields: ['address', 'durable', 'expiry-policy', 'timeout', 'dynamic', 'dynamic-node-properties', 'capabilities'] },
  0x70: { name: 'header', fields: HEADER_FIELDS },
  0x73: { name: 'properties', fields: PROPERTY_FIELDS },
};

const BATCH_FORMAT = 0x80013700;
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const PLACEHOLDER_RE = /^<[a-z-]+(-\d+)?>$/;

interface LinkInfo {
  name: string;
  role: 'sender' | 'receiver';
  address?: string;
}

interface ConnectionState {
  id: number;
  buffer: Buffer;
  links: Map<string, LinkInfo>;
  partial: Map<string, { performative: readonly AmqpValue[]; payloads: Buffer[] }>;
  /** What the broker sent on this connection, read only to find which link a disposition settles. */
  peer: PeerState;
}

/** The broker's side of a connection: its sessions, links and the deliveries it sent on them. */
interface PeerState {
  buffer: Buffer;
  /** The broker's channel of each session, by the client's channel (from the broker's begin). */
  channels: Map<number, number>;
  /** The client's link of each broker handle, by `<broker channel>/<handle>` (matched by link name). */
  links: Map<string, string>;
  /** The link name of each delivery the broker sent, by `<broker channel>/<delivery-id>`. */
  deliveries: Map<string, string>;
}

/** A raw capture record, kept until a view is asked for. */
interface RawFrame {
  connection: number;
  channel: number;
  code: number | 'protocol-header';
  performative: readonly AmqpValue[];
  protocolId?: number;
  link?: LinkInfo;
  payload?: Buffer;
  messageFormat?: number;
}

/**
 * Records the frames clients send. Give it each accepted socket with {@link FrameCapture.attach}
 * (the EmbeddedBroker does so with `captureFrames: true`), then read {@link FrameCapture.frames}.
 */
export class FrameCapture {
  private readonly records: RawFrame[] = [];
  private connections = 0;
  private readonly errors: string[] = [];

  /** @param options - The broker's port to hide in normalized frames; it can also be set later with `setPort`. */
  constructor(private readonly options: FrameCaptureOptions = {}) {}

  /** Sets the port to normalize (when the listener's port was not known at construction). */
  setPort(port: number): void {
    (this.options as { port?: number }).port = port;
  }

  /** Starts recording what the peer of `socket` sends (the socket's data is not consumed). */
  attach(socket: Socket): void {
    this.connections += 1;
    const peer: PeerState = { buffer: Buffer.alloc(0), channels: new Map(), links: new Map(), deliveries: new Map() };
    const state: ConnectionState = { id: this.connections, buffer: Buffer.alloc(0), links: new Map(), partial: new Map(), peer };
    // The broker's frames are read only for the delivery ids of its transfers (see PeerState).
    const write = socket.write;
    socket.write = function (this: Socket, chunk: unknown, ...rest: unknown[]): boolean {
      if (Buffer.isBuffer(chunk)) {
        peer.buffer = peer.buffer.length === 0 ? chunk : Buffer.concat([peer.buffer, chunk]);
        try {
          readPeer(peer);
        } catch {
          peer.buffer = Buffer.alloc(0);
        }
      }
      return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Socket['write'];
    socket.on('data', (chunk: Buffer) => {
      state.buffer = state.buffer.length === 0 ? chunk : Buffer.concat([state.buffer, chunk]);
      try {
        this.drain(state);
      } catch (err) {
        this.errors.push(`connection ${state.id}: ${err instanceof Error ? err.message : String(err)}`);
        state.buffer = Buffer.alloc(0);
      }
    });
  }

  /** Forgets every recorded frame (connections keep their numbers). */
  clear(): void {
    this.records.length = 0;
    this.errors.length = 0;
  }

  /** Bytes that could not be decoded as AMQP, one line per problem (normally empty). */
  decodeErrors(): readonly string[] {
    return [...this.errors];
  }

  /**
   * The frames recorded so far, in arrival order.
   *
   * @param options.normalize - Replace volatile and secret values (see the module doc). @default true
   * @param options.dropPort - Remove `:<port>` instead of writing the placeholder, to compare a client
   *   whose endpoint names the port with one that connects on the default port. @default false
   */
  frames(options: { normalize?: boolean; dropPort?: boolean } = {}): CapturedFrame[] {
    const normalizer = new Normalizer(options.normalize ?? true, this.options.port, options.dropPort ?? false);
    return this.records.map((record) => render(record, normalizer));
  }

  private drain(state: ConnectionState): void {
    for (;;) {
      const chunk = nextChunk(state.buffer);
      if (chunk === undefined) return;
      state.buffer = chunk.rest;
      if (chunk.kind === 'header') {
        this.records.push({ connection: state.id, channel: 0, code: 'protocol-header', performative: [], protocolId: chunk.protocolId });
        continue;
      }
      const { channel, body } = chunk;
      if (body.length === 0) continue; // heartbeat
      const { value, end } = decodeAt(body, 0);
      if (value.type !== 'described' || value.value.type !== 'list') throw new AmqpDecodeError('a frame body must be a described list');
      const code = sectionCode(value.descriptor) ?? asNumber(value.descriptor);
      if (code === undefined || !PERFORMATIVES[code]) throw new AmqpDecodeError('unknown performative');
      this.record(state, channel, code, value.value.value, body.subarray(end));
    }
  }

  private record(state: ConnectionState, channel: number, code: number, fields: readonly AmqpValue[], payload: Buffer): void {
    const base: RawFrame = { connection: state.id, channel, code, performative: fields };
    if (code === 0x12) {
      // attach: remember the link by channel and handle
      const name = asString(fields[0]) ?? '';
      const role = fields[2]?.type === 'boolean' && fields[2].value ? 'receiver' : 'sender';
      const terminus = role === 'receiver' ? fields[5] : fields[6];
      const address = terminus?.type === 'described' && terminus.value.type === 'list' ? asString(terminus.value.value[0]) : undefined;
      const link: LinkInfo = address === undefined ? { name, role } : { name, role, address };
      state.links.set(`${channel}/${asNumber(fields[1]) ?? 0}`, link);
      this.records.push({ ...base, link });
      return;
    }
    if (code === 0x13 || code === 0x14 || code === 0x16) {
      const handle = asNumber(fields[code === 0x13 ? 4 : 0]);
      const key = `${channel}/${handle ?? -1}`;
      const link = handle === undefined ? undefined : state.links.get(key);
      if (code === 0x14) {
        const pending = state.partial.get(key) ?? { performative: fields, payloads: [] as Buffer[] };
        pending.payloads.push(payload);
        const more = fields[5]?.type === 'boolean' && fields[5].value;
        const aborted = fields[9]?.type === 'boolean' && fields[9].value;
        if (more && !aborted) {
          state.partial.set(key, pending);
          this.records.push({ ...base, ...(link ? { link } : {}) });
          return;
        }
        state.partial.delete(key);
        const format = asNumber(pending.performative[3]) ?? 0;
        this.records.push({
          ...base,
          ...(link ? { link } : {}),
          ...(aborted ? {} : { payload: Buffer.concat(pending.payloads), messageFormat: format }),
        });
        return;
      }
      if (code === 0x16 && fields[1]?.type === 'boolean' && fields[1].value) state.links.delete(key);
      this.records.push({ ...base, ...(link ? { link } : {}) });
      return;
    }
    if (code === 0x15 && fields[0]?.type === 'boolean' && fields[0].value) {
      // disposition by the receiver: the link of the delivery `first` names
      const brokerChannel = state.peer.channels.get(channel);
      const first = asNumber(fields[1]);
      const name = brokerChannel === undefined || first === undefined ? undefined : state.peer.deliveries.get(`${brokerChannel}/${first}`);
      const link = name === undefined ? undefined : [...state.links.values()].find((l) => l.name === name);
      this.records.push({ ...base, ...(link ? { link } : {}) });
      return;
    }
    this.records.push(base);
  }
}

/** A protocol header or a whole frame at the start of `buffer`, or undefined when more bytes are needed. */
function nextChunk(
  buffer: Buffer,
): { kind: 'header'; protocolId: number; rest: Buffer } | { kind: 'frame'; type: number; channel: number; body: Buffer; rest: Buffer } | undefined {
  if (buffer.length >= 4 && buffer.toString('latin1', 0, 4) === 'AMQP') {
    return buffer.length < 8 ? undefined : { kind: 'header', protocolId: buffer[4] as number, rest: buffer.subarray(8) };
  }
  if (buffer.length < 8) return undefined;
  const size = buffer.readUInt32BE(0);
  if (size < 8) throw new AmqpDecodeError(`frame size ${size} is below the minimum of 8`);
  if (buffer.length < size) return undefined;
  const doff = buffer[4] as number;
  return { kind: 'frame', type: buffer[5] as number, channel: buffer.readUInt16BE(6), body: buffer.subarray(doff * 4, size), rest: buffer.subarray(size) };
}

/** Reads the frames the broker wrote, keeping only what maps a client's disposition to its link. */
function readPeer(peer: PeerState): void {
  for (;;) {
    const chunk = nextChunk(peer.buffer);
    if (chunk === undefined) return;
    peer.buffer = chunk.rest;
    if (chunk.kind === 'header') continue;
    const { channel, body } = chunk;
    if (body.length === 0 || chunk.type !== 0) continue; // a heartbeat or a SASL frame
    const { value } = decodeAt(body, 0);
    if (value.type !== 'described' || value.value.type !== 'list') continue;
    const fields = value.value.value;
    const code = asNumber(value.descriptor);
    if (code === 0x11) {
      const remote = asNumber(fields[0]);
      if (remote !== undefined) peer.channels.set(remote, channel);
    } else if (code === 0x12) {
      peer.links.set(`${channel}/${asNumber(fields[1]) ?? 0}`, asString(fields[0]) ?? '');
    } else if (code === 0x14) {
      const name = peer.links.get(`${channel}/${asNumber(fields[0]) ?? 0}`);
      const id = asNumber(fields[1]);
      if (name !== undefined && id !== undefined) peer.deliveries.set(`${channel}/${id}`, name);
    }
  }
}

/** Replaces volatile and secret values, numbering them consistently within one view. */
class Normalizer {
  private readonly uuids = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private linkCount = 0;
  private containerCount = 0;

  constructor(
    readonly enabled: boolean,
    private readonly port: number | undefined,
    private readonly dropPort: boolean,
  ) {}

  linkName(name: string): string {
    if (!this.enabled) return name;
    let placeholder = this.names.get(name);
    if (!placeholder) {
      placeholder = `<link-${++this.linkCount}>`;
      this.names.set(name, placeholder);
    }
    return placeholder;
  }

  containerId(id: string): string {
    if (!this.enabled) return id;
    let placeholder = this.names.get(id);
    if (!placeholder) {
      placeholder = `<container-${++this.containerCount}>`;
      this.names.set(id, placeholder);
    }
    return placeholder;
  }

  uuid(value: string): string {
    if (!this.enabled) return value;
    const key = value.toLowerCase();
    let placeholder = this.uuids.get(key);
    if (!placeholder) {
      placeholder = `<uuid-${this.uuids.size + 1}>`;
      this.uuids.set(key, placeholder);
    }
    return placeholder;
  }

  string(value: string): string {
    if (!this.enabled) return value;
    const known = this.names.get(value);
    if (known) return known;
    if (value.startsWith('SharedAccessSignature ')) return this.sasToken(value);
    let out = value.replace(UUID_RE, (match) => this.uuid(match));
    if (this.port !== undefined) {
      out = out
        .split(`:${this.port}`)
        .join(this.dropPort ? '' : ':<port>')
        .split(`%3A${this.port}`)
        .join(this.dropPort ? '' : '%3A<port>');
    }
    return out;
  }

  /** A SAS token with its fields in a fixed order and the signature and expiry hidden. */
  sasToken(token: string): string {
    const fields = new Map<string, string>();
    for (const part of token.slice('SharedAccessSignature '.length).split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const sr = this.string(fields.get('sr') ?? '<missing>');
    const skn = fields.get('skn') ?? '<missing>';
    const extra = [...fields.keys()].filter((k) => !['sr', 'sig', 'se', 'skn'].includes(k)).sort();
    return `SharedAccessSignature sr=${sr}&sig=${fields.has('sig') ? '<signature>' : '<missing>'}&se=${fields.has('se') ? '<expiry>' : '<missing>'}&skn=${skn}${extra.map((k) => `&${k}=<value>`).join('')}`;
  }

  value(value: AmqpValue): Json {
    switch (value.type) {
      case 'null':
        return null;
      case 'uuid':
        return { uuid: this.uuid(value.value) };
      case 'timestamp':
        return { timestamp: this.enabled ? '<timestamp>' : value.value };
      case 'string':
      case 'symbol':
        return { [value.type]: this.string(value.value) };
      case 'ulong':
      case 'long':
        return { [value.type]: value.value.toString() };
      case 'binary':
      case 'decimal32':
      case 'decimal64':
      case 'decimal128':
        return { [value.type]: value.value.toString('hex') };
      case 'list':
        return { list: value.value.map((item) => this.value(item)) };
      case 'map':
        return { map: this.map(value) };
      case 'array':
        return { array: value.elementType, items: value.value.map((item) => this.value(item)) };
      case 'described':
        return this.described(value);
      default:
        return { [value.type]: value.value };
    }
  }

  /** A map as an object keyed `type:key` (`symbol:x-opt-lock-token`, `string:operation`). */
  map(value: AmqpValue): { [key: string]: Json } {
    const out: { [key: string]: Json } = {};
    if (value.type !== 'map') return out;
    for (const [k, v] of value.value) {
      const key = k.type === 'string' || k.type === 'symbol' ? `${k.type}:${this.string(k.value)}` : JSON.stringify(this.value(k));
      out[key] = this.value(v);
    }
    return out;
  }

  described(value: Extract<AmqpValue, { type: 'described' }>): Json {
    const code = sectionCode(value.descriptor) ?? asNumber(value.descriptor);
    const composite = code === undefined ? undefined : COMPOSITES[code];
    if (composite && (value.value.type === 'list' || value.value.type === 'null')) {
      return { [composite.name]: this.fields(composite.fields, value.value.type === 'list' ? value.value.value : []) };
    }
    return { described: this.value(value.descriptor), value: this.value(value.value) };
  }

  fields(names: readonly string[], values: readonly AmqpValue[]): { [field: string]: Json } {
    const out: { [field: string]: Json } = {};
    values.forEach((item, index) => {
      if (item.type === 'null') return;
      out[names[index] ?? `field-${index}`] = this.value(item);
    });
    return out;
  }

  message(bytes: Buffer, format: number): CapturedMessage {
    let sections: MessageSections;
    try {
      sections = decodeMessage(bytes);
    } catch (err) {
      return { format, body: [{ undecodable: bytes.toString('hex'), error: String(err) }] };
    }
    const out: CapturedMessage = { format, body: [] };
    if (sections.header) out.header = this.fields(HEADER_FIELDS, sections.header.value);
    if (sections.deliveryAnnotations) out.deliveryAnnotations = this.map(sections.deliveryAnnotations);
    if (sections.messageAnnotations) out.messageAnnotations = this.map(sections.messageAnnotations);
    if (sections.properties) out.properties = this.fields(PROPERTY_FIELDS, sections.properties.value);
    if (sections.applicationProperties) out.applicationProperties = this.map(sections.applicationProperties);
    const batch: CapturedMessage[] = [];
    let offset = 0;
    while (offset < sections.body.length) {
      const { value, end } = decodeAt(sections.body, offset);
      offset = end;
      const code = value.type === 'described' ? sectionCode(value.descriptor) : undefined;
      const inner = value.type === 'described' ? value.value : value;
      if (code === SECTION.data && inner.type === 'binary') {
        if (format === BATCH_FORMAT) batch.push(this.message(inner.value, 0));
        else out.body.push({ data: inner.value.toString('hex') });
      } else if (code === SECTION.amqpSequence) out.body.push({ sequence: this.value(inner) });
      else if (code === SECTION.amqpValue) out.body.push({ value: this.value(inner) });
      else if (code === SECTION.footer) out.body.push({ footer: this.map(inner) });
      else out.body.push({ unknown: this.value(value) });
    }
    if (format === BATCH_FORMAT) out.batch = batch;
    return out;
  }
}

function render(record: RawFrame, normalizer: Normalizer): CapturedFrame {
  if (record.code === 'protocol-header') {
    const protocol = record.protocolId === 3 ? 'sasl' : record.protocolId === 2 ? 'tls' : 'amqp';
    return { connection: record.connection, channel: 0, performative: 'protocol-header', fields: { protocol } };
  }
  const spec = PERFORMATIVES[record.code] as { name: string; fields: readonly string[] };
  const fields: { [field: string]: Json } = {};
  record.performative.forEach((value, index) => {
    if (value.type === 'null') return;
    const name = spec.fields[index] ?? `field-${index}`;
    if (name === 'name' && record.code === 0x12 && value.type === 'string') fields[name] = { string: normalizer.linkName(value.value) };
    else if (name === 'container-id' && value.type === 'string') fields[name] = { string: normalizer.containerId(value.value) };
    else if (name === 'delivery-tag' && normalizer.enabled) fields[name] = { binary: '<tag>' };
    else if (name === 'initial-response' && record.code === 0x41 && value.type === 'binary') fields[name] = plainResponse(value.value, normalizer);
    else fields[name] = normalizer.value(value);
  });
  const frame: CapturedFrame = { connection: record.connection, channel: record.channel, performative: spec.name, fields };
  if (record.link) {
    frame.link = {
      name: normalizer.linkName(record.link.name),
      role: record.link.role,
      ...(record.link.address === undefined ? {} : { address: normalizer.string(record.link.address) }),
    };
  }
  if (record.payload) frame.message = normalizer.message(record.payload, record.messageFormat ?? 0);
  return frame;
}

/** A SASL PLAIN initial response with the password hidden. */
function plainResponse(bytes: Buffer, normalizer: Normalizer): Json {
  const parts = bytes.toString('utf8').split('\0');
  if (parts.length !== 3) return { binary: normalizer.enabled ? '<response>' : bytes.toString('hex') };
  return { plain: { authzid: parts[0] ?? '', authcid: parts[1] ?? '', passwd: normalizer.enabled ? '<secret>' : (parts[2] ?? '') } };
}

/**
 * Decodes a message carried as bytes inside another one — the `message` of a `schedule-message`
 * request, say, which a capture shows as `{ binary: hex }` — into the same view as a captured
 * message, normalized the same way (its own numbering of uuids).
 *
 * @param bytes - The message's bytes, or their hex as a capture shows them.
 * @param options.normalize - Replace volatile and secret values. @default true
 */
export function decodeCapturedMessage(bytes: Buffer | string, options: { normalize?: boolean } = {}): CapturedMessage {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes;
  return new Normalizer(options.normalize ?? true, undefined, false).message(buffer, 0);
}

/** Whether a string is a placeholder put in by normalization. */
export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_RE.test(value);
}
