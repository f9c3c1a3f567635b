import type { FlowFacts } from '../rules/facts.js';
import { CliError, EXIT } from './exit.js';

// --filter: a small flow filter in tcpdump's words: `host 10.0.0.2`, `port 8080`,
// `10.0.0.2:8080`, `client 10.0.0.1`, `server [::1]:80`, joined with `and`.

export type FlowPredicate = (f: FlowFacts) => boolean;

function stripBrackets(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}

function endpointMatcher(text: string): (ip: string, port: number) => boolean {
  const m = /^\[(.+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (m) return (ip, port) => ip === m[1] && port === Number(m[2]);
  const host = stripBrackets(text);
  return (ip) => ip === host;
}

export function parseFlowFilter(expr: string): FlowPredicate {
  const words = expr.trim().split(/\s+/).filter(Boolean);
  const terms: FlowPredicate[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i].toLowerCase();
    if (w === 'and' || w === '&&') continue;
    const arg = words[i + 1];
    const need = () => {
      if (arg === undefined) throw new CliError(`--filter: '${w}' needs a value (e.g. '${w} ${w === 'port' ? '8080' : '10.0.0.2'}')`, EXIT.USAGE);
      i++;
      return arg;
    };
    if (w === 'port') {
      const p = Number(need());
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new CliError(`--filter: bad port '${arg}'`, EXIT.USAGE);
      terms.push((f) => f.clientPort === p || f.serverPort === p);
    } else if (w === 'host') {
      const m = endpointMatcher(need());
      terms.push((f) => m(f.clientIp, f.clientPort) || m(f.serverIp, f.serverPort));
    } else if (w === 'client' || w === 'src') {
      const m = endpointMatcher(need());
      terms.push((f) => m(f.clientIp, f.clientPort));
    } else if (w === 'server' || w === 'dst') {
      const m = endpointMatcher(need());
      terms.push((f) => m(f.serverIp, f.serverPort));
    } else if (/^[\d.]+(:\d+)?$/.test(w) || w.includes(':')) {
      const m = endpointMatcher(words[i]);
      terms.push((f) => m(f.clientIp, f.clientPort) || m(f.serverIp, f.serverPort));
    } else {
      throw new CliError(`--filter: cannot read '${words[i]}'; use host ADDR, port N, client ADDR[:PORT], server ADDR[:PORT] or ADDR:PORT, joined with 'and'`, EXIT.USAGE);
    }
  }
  return (f) => terms.every((t) => t(f));
}
