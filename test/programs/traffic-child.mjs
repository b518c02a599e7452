// One TCP connection on loopback, run by the socket acceleration kernel tests inside a network
// namespace and a cgroup the test created (the launcher joins the cgroup before entering the
// namespace, so these sockets are seen by the sock_ops program attached there). It connects,
// reports the tuple, waits for the parent to
// inspect the maps, then moves `bytes` random bytes client → server, has the server answer with
// the sha256 of what it received, and reports the hashes and the namespace's Tcp OutSegs delta.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

const cfg = JSON.parse(process.argv[2] ?? '{}');

const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const input = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => input.once('line', resolve));

function outSegs() {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf('OutSegs')]);
}

const server = net.createServer();
server.listen({ host: cfg.listenHost, port: cfg.port, ipv6Only: cfg.ipv6Only ?? false });
await once(server, 'listening');
const accepted = once(server, 'connection');
const client = net.connect({
  host: cfg.connectHost,
  port: cfg.port,
  ...(cfg.clientPort ? { localPort: cfg.clientPort } : {}),
});
await once(client, 'connect');
const [peer] = await accepted;
client.setNoDelay(true);
peer.setNoDelay(true);
say({
  phase: 'connected',
  client: { address: client.localAddress, port: client.localPort },
  server: { address: peer.localAddress, port: peer.localPort },
  cgroup: readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').pop(),
});
await nextLine();

const data = randomBytes(cfg.bytes);
const hash = createHash('sha256');
let received = 0;
peer.on('data', (chunk) => {
  hash.update(chunk);
  received += chunk.length;
  if (received === cfg.bytes) peer.write(hash.digest('hex'));
});
let reply = '';
const replied = new Promise((resolve) => {
  client.on('data', (chunk) => {
    reply += chunk.toString('latin1');
    if (reply.length >= 64) resolve();
  });
});
const before = outSegs();
// Several writes, so the sk_msg program sees several messages.
const pieces = cfg.pieces ?? 8;
const step = Math.ceil(cfg.bytes / pieces);
for (let at = 0; at < cfg.bytes; at += step) client.write(data.subarray(at, at + step));
await replied;
const after = outSegs();
say({
  phase: 'done',
  sentSha: createHash('sha256').update(data).digest('hex'),
  receivedSha: reply,
  received,
  outSegs: after - before,
});
client.destroy();
peer.destroy();
server.close();
input.close();
