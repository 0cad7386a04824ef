// TLS: a private CA made with openssl, verification on (the default), and a client certificate for SASL EXTERNAL.
// Run: npx tsx examples/tls.ts  (needs openssl on the PATH; without it, says so and exits; files go to a temp dir)
// Prints the connection over amqps with the CA, the typed error without it, and the EXTERNAL login with a client certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of } from 'rxjs';
import { type AmqpError, type Client, type ClientOptions, createClient, type SendFailedError } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

/** A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, in `dir`. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=example CA');
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(Date.now()), '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
  };
  issue('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('client', '/CN=order-service', 'extendedKeyUsage=clientAuth\n');
}

/** Sends one message and reads it back. */
async function roundTrip(client: Client, what: string): Promise<void> {
  await lastValueFrom(of(what).pipe(client.send('secure')));
  const delivery = await client.receiveOne<string>('secure');
  delivery?.accept();
  console.log(`  received '${delivery?.body}' from ${client.peer?.product}`);
}

async function main(): Promise<void> {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    console.log('openssl is not installed: this example needs it to make its certificates. Skipped.');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rhea-rx-tls-example-'));
  const file = (name: string) => join(dir, name);
  try {
    makeCertificates(dir);
    // The broker trusts the CA for client certificates and accepts SASL EXTERNAL from them.
    const broker = await EmbeddedBroker.start({
      tls: { key: readFileSync(file('server.key')), cert: readFileSync(file('server.pem')), ca: readFileSync(file('ca.pem')) },
      saslExternal: true,
    });
    console.log(`EmbeddedBroker on ${broker.url}, certificates in ${dir}`);

    const run = async (title: string, body: string, options: ClientOptions) => {
      console.log(title);
      const client = createClient(options);
      try {
        await roundTrip(client, body);
      } catch (error) {
        const cause = (error as SendFailedError).cause as AmqpError;
        console.log(`  ${cause.name} (retryable: ${cause.retryable}): ${cause.message}`);
      } finally {
        await client.close();
      }
    };

    // 1. The server's certificate is checked against the CA and the host name.
    await run('With tls.ca (a path; PEM text or a Buffer work too):', 'over TLS', { url: broker.url, tls: { ca: file('ca.pem') } });
    // 2. Without the CA the certificate cannot be verified: a typed error, not retried.
    await run("Without tls.ca (Node's default CAs do not know this one):", 'never sent', { url: broker.url });
    // 3. The client certificate authenticates the client: SASL EXTERNAL, no password.
    await run('With a client certificate and SASL EXTERNAL:', 'as order-service', {
      url: broker.url,
      sasl: { mechanisms: ['EXTERNAL'] },
      tls: { ca: file('ca.pem'), cert: file('client.pem'), key: file('client.key') },
    });
    await broker.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
