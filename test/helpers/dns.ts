// DNS messages for tests, written as RFC 1035 lays them out: names compressed against the
// question (a pointer to offset 12), or written out, or raw bytes for broken messages.
//
//   dnsQuery({ id: 7, name: 'www.example.com' })
//   dnsResponse({ id: 7, name: 'www.example.com', answers: [{ type: 'CNAME', data: 'edge.example.net' }, { type: 'A', name: 'edge.example.net', data: '203.0.113.9' }] })
//   dnsResponse({ id: 7, name: 'nope.example', rcode: 3 })
//   dnsResponse({ id: 8, name: 'example.com', type: 'HTTPS', answers: [{ type: 'HTTPS', service: { priority: 1, ipv4hint: ['203.0.113.9'] } }] })

import { addrBytes, concat } from './packets.js';

const TYPE = { A: 1, CNAME: 5, AAAA: 28, PTR: 12, SVCB: 64, HTTPS: 65 } as const;
export type DnsTypeName = keyof typeof TYPE;

export interface DnsAnswerSpec {
  /** Owner name (default: the question name, written as a pointer to it). */
  name?: string;
  type: DnsTypeName;
  ttl?: number;
  /** A/AAAA address text, or a CNAME target. */
  data?: string;
  /** SVCB/HTTPS RDATA (RFC 9460 section 2.2). */
  service?: DnsServiceSpec;
}

export interface DnsServiceSpec {
  /** 0 is AliasMode. */
  priority: number;
  /** TargetName, written out (default: the root, '.'). */
  target?: string;
  ipv4hint?: string[];
  ipv6hint?: string[];
  /** SvcParams as [key, value bytes], written in the order given in place of the alpn and hints above (for broken records). */
  params?: Array<[number, number[]]>;
}

/** SVCB RDATA: priority, the target name uncompressed, then the SvcParams (alpn "h2" and the hints by default, keys ascending). */
function serviceRdata(svc: DnsServiceSpec): number[] {
  const params: Array<[number, number[]]> = svc.params ?? [
    [1, [2, 0x68, 0x32]],
    ...(svc.ipv4hint ? [[4, svc.ipv4hint.flatMap((a) => [...addrBytes(a)])] as [number, number[]]] : []),
    ...(svc.ipv6hint ? [[6, svc.ipv6hint.flatMap((a) => [...addrBytes(a)])] as [number, number[]]] : []),
  ];
  return [...u16(svc.priority), ...encodeName(svc.target ?? '.'), ...params.flatMap(([key, value]) => [...u16(key), ...u16(value.length), ...value])];
}

export interface DnsSpec {
  id?: number;
  name: string;
  type?: DnsTypeName;
  rcode?: number;
  truncated?: boolean;
  answers?: DnsAnswerSpec[];
}

/** Name in wire form, labels written out. */
export function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter((l) => l.length > 0)) {
    out.push(label.length, ...new TextEncoder().encode(label));
  }
  out.push(0);
  return out;
}

function u16(n: number): number[] {
  return [(n >>> 8) & 0xff, n & 0xff];
}

function message(spec: DnsSpec, response: boolean): Uint8Array {
  const answers = spec.answers ?? [];
  const flags = (response ? 0x8000 : 0) | 0x0100 | (response ? 0x0080 : 0) | (spec.truncated ? 0x0200 : 0) | (spec.rcode ?? 0);
  const header = [...u16(spec.id ?? 0x1234), ...u16(flags), ...u16(1), ...u16(response ? answers.length : 0), ...u16(0), ...u16(0)];
  const question = [...encodeName(spec.name), ...u16(TYPE[spec.type ?? 'A']), ...u16(1)];
  const records: number[] = [];
  if (response) {
    for (const a of answers) {
      // A pointer to the question name at offset 12 when the owner is the question's name.
      const owner = a.name === undefined || a.name === spec.name ? [0xc0, 12] : encodeName(a.name);
      const data = a.service ? serviceRdata(a.service) : a.type === 'A' || a.type === 'AAAA' ? [...addrBytes(a.data!)] : encodeName(a.data!);
      const ttl = a.ttl ?? 300;
      records.push(...owner, ...u16(TYPE[a.type]), ...u16(1), (ttl >>> 24) & 0xff, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff, ...u16(data.length), ...data);
    }
  }
  return concat(header, question, records);
}

export function dnsQuery(spec: DnsSpec): Uint8Array {
  return message(spec, false);
}

export function dnsResponse(spec: DnsSpec): Uint8Array {
  return message(spec, true);
}

/** The same message with the two-byte length prefix DNS over TCP puts before it. */
export function withTcpLength(msg: Uint8Array): Uint8Array {
  return concat(u16(msg.length), msg);
}
