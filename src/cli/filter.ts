import { BlockList, isIP } from 'node:net';
import type { FlowFacts } from '../rules/facts.js';
import { CliError, EXIT } from './exit.js';

// --filter: a small flow filter in tcpdump's words, terms joined with `and`:
//   host ADDR, net ADDR/LEN, port N              either end of the flow
//   src ... / client ...                         the client (the sender of the first SYN)
//   dst ... / server ...                         the server
//   ADDR, ADDR/LEN, ADDR:PORT, [V6ADDR]:PORT     either end, e.g. 10.0.0.2:8080, [::1]:80
// e.g. `dst port 443 and src net 10.0.0.0/8`, `server [::1]:80`, `host fd00::/64`.
// `src` and `dst` name the flow's roles, not a packet's direction: `dst port 80` is every flow to a
// server on port 80, with the packets of both directions. Anything else is refused, naming the word.

export type FlowPredicate = (f: FlowFacts) => boolean;

type Side = 'either' | 'client' | 'server';
type EndpointTest = (ip: string, port: number) => boolean;

const SIDES: Record<string, Side> = { src: 'client', client: 'client', dst: 'server', server: 'server' };

const SYNTAX = "host ADDR, net ADDR/LEN, port N, ADDR[:PORT], each optionally after src|client or dst|server, joined with 'and'";

/** Words of pcap-filter syntax that a flow filter does not take, with what to write instead. */
const NOT_TAKEN: Record<string, string> = {
  or: "terms can only be joined with 'and' (run once per alternative)",
  '||': "terms can only be joined with 'and' (run once per alternative)",
  not: 'negation is not supported',
  '!': 'negation is not supported',
  tcp: "every flow is TCP: leave 'tcp' out",
  ip: "leave 'ip' out: an address says its family",
  ip6: "leave 'ip6' out: an address says its family",
  portrange: "one port per term: 'port N'",
};

function usage(message: string): CliError {
  return new CliError(`--filter: ${message}`, EXIT.USAGE);
}

function familyOf(ip: string): 'ipv4' | 'ipv6' {
  return ip.includes(':') ? 'ipv6' : 'ipv4';
}

/**
 * ADDR, ADDR/LEN, ADDR:PORT or [V6ADDR]:PORT (brackets optional for an IPv6 address without a
 * port) as a test on one end of a flow. Addresses compare as numbers, so `0:0::1` is `::1`.
 */
function parseEndpoint(text: string, allowPort: boolean): EndpointTest {
  let addr = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4WithPort = /^([\d.]+):(\d+)$/.exec(text);
  if (bracketed) [addr, portText] = [bracketed[1], bracketed[2]];
  else if (v4WithPort) [addr, portText] = [v4WithPort[1], v4WithPort[2]];
  if (portText !== undefined && !allowPort) throw usage(`'${text}': 'net' takes ADDR/LEN, without a port`);
  const slash = addr.indexOf('/');
  const ip = slash < 0 ? addr : addr.slice(0, slash);
  const version = isIP(ip);
  if (version === 0) throw usage(`'${text}' is not an IP address (ADDR, ADDR/LEN or ADDR:PORT; host names are not looked up)`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const maxBits = version === 4 ? 32 : 128;
  const lengthText = slash < 0 ? null : addr.slice(slash + 1);
  if (lengthText !== null && (!/^\d+$/.test(lengthText) || Number(lengthText) > maxBits)) throw usage(`'${text}': the prefix length after / must be 0 to ${maxBits}`);
  const bits = lengthText === null ? maxBits : Number(lengthText);
  const net = new BlockList();
  net.addSubnet(ip, bits, family);
  const port = portText === undefined ? null : parsePort(portText);
  return (flowIp, flowPort) => (port === null || flowPort === port) && familyOf(flowIp) === family && net.check(flowIp, family);
}

function parsePort(text: string): number {
  const p = Number(text);
  if (!/^\d+$/.test(text) || p > 65535) throw usage(`'${text}' is not a port number (0 to 65535)`);
  return p;
}

function onSide(side: Side, test: EndpointTest): FlowPredicate {
  if (side === 'client') return (f) => test(f.clientIp, f.clientPort);
  if (side === 'server') return (f) => test(f.serverIp, f.serverPort);
  return (f) => test(f.clientIp, f.clientPort) || test(f.serverIp, f.serverPort);
}

function portTest(port: number): EndpointTest {
  return (_ip, p) => p === port;
}

/** Parses `expr`; throws a usage error (exit 2) naming the first word it cannot take. */
export function parseFlowFilter(expr: string): FlowPredicate {
  const words = expr.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) throw usage(`empty filter; use ${SYNTAX}`);
  const terms: FlowPredicate[] = [];
  let i = 0;
  const next = (after: string, example: string): string => {
    const w = words[i++];
    if (w === undefined || /^(and|&&)$/i.test(w)) throw usage(`'${after}' needs a value (e.g. '${after} ${example}')`);
    return w;
  };
  while (i < words.length) {
    if (terms.length > 0) {
      const joiner = words[i++];
      if (!/^(and|&&)$/i.test(joiner)) throw refuse(joiner, `terms are joined with 'and'`);
      if (i === words.length) throw usage(`'${joiner}' at the end needs a term after it`);
    }
    let word = words[i++];
    let lower = word.toLowerCase();
    let side: Side = 'either';
    if (lower in SIDES) {
      side = SIDES[lower];
      word = next(lower, '10.0.0.2');
      lower = word.toLowerCase();
    }
    if (lower === 'port') terms.push(onSide(side, portTest(parsePort(next('port', '8080')))));
    else if (lower === 'host') terms.push(onSide(side, parseEndpoint(next('host', '10.0.0.2'), true)));
    else if (lower === 'net') terms.push(onSide(side, parseEndpoint(next('net', '10.0.0.0/24'), false)));
    else if (/^[\d.]+([:/]\d+)?$/.test(word) || word.includes(':') || word.startsWith('[')) terms.push(onSide(side, parseEndpoint(word, true)));
    else throw refuse(word);
  }
  return (f) => terms.every((t) => t(f));
}

function refuse(word: string, why?: string): CliError {
  const hint = NOT_TAKEN[word.toLowerCase()] ?? why;
  return usage(`cannot read '${word}'${hint ? `: ${hint}` : ''}; use ${SYNTAX}`);
}
