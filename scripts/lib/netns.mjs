// Throwaway network namespaces joined by a veth pair, for scenarios that need a real link:
// packet filters that drop traffic, sysctls that must not touch the host, a lossy path.
//
// Addresses come from 10.231.0.0/16, one /30 per veth pair, and exist only on the veth ends
// created here: traffic never leaves the namespaces (or, for `createNamespaceToRoot`, the veth
// pair between the root namespace and the new one). Names are unique per process and run, and
// everything is deleted in `destroy()`; the `with*` wrappers call it in a finally block.
import { runCommand, startProcess } from './proc.mjs';

const SUBNET_PREFIX = '10.231';
const PREFIX_LEN = 30;
let runCounter = 0;

/** A short name that is unique for this process and call: interface names are capped at 15 chars. */
function uniqueTag() {
  runCounter += 1;
  const rand = Math.floor(Math.random() * 36 ** 2).toString(36).padStart(2, '0');
  return `${(process.pid % 36 ** 4).toString(36)}${runCounter.toString(36)}${rand}`;
}

function randomSubnet() {
  const third = Math.floor(Math.random() * 256);
  const block = Math.floor(Math.random() * 64) * 4;
  return { first: `${SUBNET_PREFIX}.${third}.${block + 1}`, second: `${SUBNET_PREFIX}.${third}.${block + 2}` };
}

const ip = (args) => runCommand('ip', args, { timeoutMs: 5_000 });

/** Runs `cmd args` inside namespace `ns` and waits for it (see runCommand for options). */
export function execInNamespace(ns, cmd, args = [], options = {}) {
  return runCommand('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

/** Starts a long-running `cmd args` inside namespace `ns` (see startProcess for options). */
export function startInNamespace(ns, cmd, args = [], options = {}) {
  return startProcess('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

/** Sets a sysctl inside `ns` only (net.* sysctls are per namespace). */
export function setNamespaceSysctl(ns, key, value) {
  return execInNamespace(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
}

/**
 * Linux 6.5+ retries SYNs at fixed 1 s intervals for the first `tcp_syn_linear_timeouts` (default 4)
 * attempts; older kernels, still most of what runs in the field, double the interval (1 s, 3 s, 7 s).
 * Turning the linear phase off inside `ns` gives the classic pattern; a no-op on kernels without it.
 */
export async function useClassicSynBackoff(ns) {
  await execInNamespace(ns, 'sysctl', ['-q', '-w', 'net.ipv4.tcp_syn_linear_timeouts=0'], { check: false });
}

async function addNamespace(name) {
  await ip(['netns', 'add', name]);
  await execInNamespace(name, 'ip', ['link', 'set', 'lo', 'up']);
}

async function deleteNamespace(name) {
  await runCommand('ip', ['netns', 'del', name], { timeoutMs: 5_000, check: false });
}

// TSO/GSO on veth would hand tcpdump 64 KB super-segments; one MSS per packet looks like a wire.
async function limitSegmentation(ns, ifname) {
  await execInNamespace(ns, 'ip', ['link', 'set', 'dev', ifname, 'gso_max_size', '1500', 'gso_max_segs', '1']);
}

/**
 * Two namespaces, `client` and `server`, joined by one veth pair on a /30.
 * @returns {Promise<NamespacePair>}
 *
 * @typedef {{ ns: string, ifname: string, addr: string }} NamespaceEnd
 * @typedef {{ client: NamespaceEnd, server: NamespaceEnd, prefixLen: number, destroy: () => Promise<void> }} NamespacePair
 */
export async function createNamespacePair({ mtu = 1500 } = {}) {
  const tag = uniqueTag();
  const { first, second } = randomSubnet();
  const client = { ns: `tcpwhy-${tag}-c`, ifname: `tw${tag}c`, addr: first };
  const server = { ns: `tcpwhy-${tag}-s`, ifname: `tw${tag}s`, addr: second };
  const created = [];
  const destroy = async () => {
    // Deleting a namespace deletes the veth end inside it, and with it the peer.
    for (const ns of created.reverse()) await deleteNamespace(ns);
  };
  try {
    await addNamespace(client.ns);
    created.push(client.ns);
    await addNamespace(server.ns);
    created.push(server.ns);
    await ip(['link', 'add', client.ifname, 'netns', client.ns, 'type', 'veth', 'peer', 'name', server.ifname, 'netns', server.ns]);
    for (const end of [client, server]) {
      await execInNamespace(end.ns, 'ip', ['addr', 'add', `${end.addr}/${PREFIX_LEN}`, 'dev', end.ifname]);
      await execInNamespace(end.ns, 'ip', ['link', 'set', 'dev', end.ifname, 'mtu', String(mtu), 'up']);
      await limitSegmentation(end.ns, end.ifname);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { client, server, prefixLen: PREFIX_LEN, destroy };
}

/** Runs `body(pair)` with a fresh namespace pair and always destroys it afterwards. */
export async function withNamespacePair(options, body) {
  const pair = await createNamespacePair(options);
  try {
    return await body(pair);
  } finally {
    await pair.destroy();
  }
}

/**
 * One namespace with a veth to the root namespace. `root` is the end left in the root
 * namespace (its `ns` is null); `inner` lives in the new namespace.
 */
export async function createNamespaceToRoot({ mtu = 1500 } = {}) {
  const tag = uniqueTag();
  const { first, second } = await pickUnusedRootSubnet();
  const root = { ns: null, ifname: `tw${tag}r`, addr: first };
  const inner = { ns: `tcpwhy-${tag}-n`, ifname: `tw${tag}n`, addr: second };
  let created = false;
  const destroy = async () => {
    if (created) await deleteNamespace(inner.ns);
    // Normally gone with the namespace; this covers a failure before the move.
    await runCommand('ip', ['link', 'del', root.ifname], { timeoutMs: 5_000, check: false });
  };
  try {
    await addNamespace(inner.ns);
    created = true;
    await ip(['link', 'add', root.ifname, 'type', 'veth', 'peer', 'name', inner.ifname, 'netns', inner.ns]);
    await ip(['addr', 'add', `${root.addr}/${PREFIX_LEN}`, 'dev', root.ifname]);
    await ip(['link', 'set', 'dev', root.ifname, 'mtu', String(mtu), 'gso_max_size', '1500', 'gso_max_segs', '1', 'up']);
    await execInNamespace(inner.ns, 'ip', ['addr', 'add', `${inner.addr}/${PREFIX_LEN}`, 'dev', inner.ifname]);
    await execInNamespace(inner.ns, 'ip', ['link', 'set', 'dev', inner.ifname, 'mtu', String(mtu), 'up']);
    await limitSegmentation(inner.ns, inner.ifname);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { root, inner, prefixLen: PREFIX_LEN, destroy };
}

/** Runs `body(link)` with a fresh namespace-to-root veth and always destroys it afterwards. */
export async function withNamespaceToRoot(options, body) {
  const link = await createNamespaceToRoot(options);
  try {
    return await body(link);
  } finally {
    await link.destroy();
  }
}

/**
 * Three namespaces in a line, `client` - `router` - `server`, each link a veth pair on a /30 of its
 * own, with routes through the router (which forwards). `towardClientMtu` is the MTU of the
 * router's link to the client, the narrow hop of the path.
 * @returns {Promise<{ client: NamespaceEnd, server: NamespaceEnd, router: { ns: string, towardClient: NamespaceEnd, towardServer: NamespaceEnd }, destroy: () => Promise<void> }>}
 */
export async function createRoutedPath({ towardClientMtu = 1500 } = {}) {
  const tag = uniqueTag();
  let a = randomSubnet();
  let b = randomSubnet();
  while (b.first === a.first) b = randomSubnet();
  const routerNs = `tcpwhy-${tag}-r`;
  const client = { ns: `tcpwhy-${tag}-c`, ifname: `tw${tag}c`, addr: a.first };
  const towardClient = { ns: routerNs, ifname: `tw${tag}rc`, addr: a.second };
  const towardServer = { ns: routerNs, ifname: `tw${tag}rs`, addr: b.first };
  const server = { ns: `tcpwhy-${tag}-s`, ifname: `tw${tag}s`, addr: b.second };
  const created = [];
  const destroy = async () => {
    for (const ns of created.reverse()) await deleteNamespace(ns);
  };
  try {
    for (const ns of [client.ns, routerNs, server.ns]) {
      await addNamespace(ns);
      created.push(ns);
    }
    for (const [x, y, mtu] of [[client, towardClient, towardClientMtu], [towardServer, server, 1500]]) {
      await ip(['link', 'add', x.ifname, 'netns', x.ns, 'type', 'veth', 'peer', 'name', y.ifname, 'netns', y.ns]);
      for (const end of [x, y]) {
        await execInNamespace(end.ns, 'ip', ['addr', 'add', `${end.addr}/${PREFIX_LEN}`, 'dev', end.ifname]);
        // The narrow hop is the router's side of the link: the client's own link stays at 1500.
        const endMtu = end === towardClient ? mtu : 1500;
        await execInNamespace(end.ns, 'ip', ['link', 'set', 'dev', end.ifname, 'mtu', String(endMtu), 'up']);
        await limitSegmentation(end.ns, end.ifname);
      }
    }
    await setNamespaceSysctl(routerNs, 'net.ipv4.ip_forward', '1');
    await execInNamespace(client.ns, 'ip', ['route', 'add', 'default', 'via', towardClient.addr]);
    await execInNamespace(server.ns, 'ip', ['route', 'add', 'default', 'via', towardServer.addr]);
  } catch (err) {
    await destroy();
    throw err;
  }
  return { client, server, router: { ns: routerNs, towardClient, towardServer }, destroy };
}

/** Runs `body(path)` with a fresh routed path and always destroys it afterwards. */
export async function withRoutedPath(options, body) {
  const path = await createRoutedPath(options);
  try {
    return await body(path);
  } finally {
    await path.destroy();
  }
}

async function pickUnusedRootSubnet() {
  const { stdout } = await ip(['-o', '-4', 'addr', 'show']);
  for (let attempt = 0; attempt < 20; attempt++) {
    const subnet = randomSubnet();
    if (!stdout.includes(` ${subnet.first}/`) && !stdout.includes(` ${subnet.second}/`)) return subnet;
  }
  throw new Error(`no unused ${SUBNET_PREFIX}.x.y/${PREFIX_LEN} found in the root namespace`);
}

// A python client: prints how connect() ended, "connected", "timeout" or the errno name (EHOSTUNREACH...).
const CONNECTING_CLIENT = `
import errno, socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print('connected')
except socket.timeout:
    print('timeout')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
finally:
    s.close()
`;

/**
 * Connects from inside namespace `ns` to host:port, giving up after `timeoutS` seconds; resolves to
 * how it ended: 'connected', 'timeout' or the errno name.
 * @param {string} ns @param {string} host @param {number} port @param {number} timeoutS
 * @returns {Promise<string>}
 */
export function connectFromNamespace(ns, host, port, timeoutS) {
  return pythonInNamespace(ns, CONNECTING_CLIENT, [host, port, timeoutS], timeoutS * 1000 + 3_000);
}

/**
 * Runs the python `script` inside namespace `ns` with `args` (each made text) and waits for it, at
 * most `timeoutMs`; resolves to what it printed, trimmed.
 * @param {string} ns @param {string} script @param {Array<string | number>} args @param {number} timeoutMs
 * @returns {Promise<string>}
 */
export async function pythonInNamespace(ns, script, args, timeoutMs) {
  const { stdout } = await execInNamespace(ns, 'python3', ['-c', script, ...args.map(String)], { timeoutMs });
  return stdout.trim();
}
