/**
 * A throw-away self-signed certificate for an `amqps` test listener, made with node:crypto alone
 * (no openssl binary): an EC P-256 key and an X.509 v3 certificate that is its own CA, with the
 * given DNS names and IP addresses as subject alternative names.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIPv4 } from 'node:net';

/** A key and certificate in PEM; give `cert` to clients as their CA. */
export interface SelfSignedCertificate {
  /** The private key (EC P-256), PEM-encoded; give it to the listener. */
  key: string;
  /** The self-signed X.509 certificate, PEM-encoded: the listener's certificate and the clients' CA. */
  cert: string;
}

/** What {@link createSelfSignedCertificate} makes: the names it covers and how long it is valid. */
export interface SelfSignedCertificateOptions {
  /** DNS names and IPv4 addresses the certificate covers; the first is the subject CN. @default ['localhost', '127.0.0.1'] */
  hosts?: string[];
  /** Validity in days from now. @default 2 */
  days?: number;
}

function der(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else header = Buffer.from([tag, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]): Buffer => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => der(0x31, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    let rest = Math.floor(part / 128);
    while (rest > 0) {
      chunk.unshift((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function integer(bytes: Buffer): Buffer {
  const positive = (bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return der(0x02, positive);
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

function name(cn: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));
}

/** Creates a self-signed certificate (and its key) for a local TLS listener. */
export function createSelfSignedCertificate(options: SelfSignedCertificateOptions = {}): SelfSignedCertificate {
  const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
  if (hosts.length === 0) throw new TypeError('createSelfSignedCertificate: hosts must name at least one host');
  const days = options.days ?? 2;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const subject = name(hosts[0] as string);
  const now = Date.now();
  const altNames = hosts.map((host) =>
    isIPv4(host) ? der(0x87, Buffer.from(host.split('.').map(Number))) : der(0x82, Buffer.from(host, 'ascii')),
  );
  const extensions = der(
    0xa3,
    seq(
      // basicConstraints: CA (the certificate is its own trust anchor), critical
      seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
      // keyUsage: digitalSignature, keyCertSign
      seq(oid('2.5.29.15'), der(0x04, der(0x03, Buffer.from([0x02, 0x84])))),
      // extKeyUsage: serverAuth
      seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))),
      // subjectAltName
      seq(oid('2.5.29.17'), der(0x04, seq(...altNames))),
    ),
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    subject,
    seq(time(new Date(now - 60 * 60 * 1000)), time(new Date(now + days * 24 * 60 * 60 * 1000))),
    subject,
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = certificate.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
  };
}
