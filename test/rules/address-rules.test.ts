import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../../src/pipeline.js';
import { unroutableRange } from '../../src/rules/address-rules.js';
import { analyzeConversation, conv } from '../helpers/conversation.js';
import { useCorpus } from '../helpers/corpus.js';

const corpus = useCorpus();

describe('unroutableRange', () => {
  it.each([
    ['203.0.113.94', '203.0.113.0/24'],
    ['192.0.2.1', '192.0.2.0/24'],
    ['198.51.100.200', '198.51.100.0/24'],
    ['0.0.0.0', '0.0.0.0/8'],
    ['0.102.56.75', '0.0.0.0/8'],
    ['255.255.255.255', '255.255.255.255/32'],
    ['240.0.0.1', '240.0.0.0/4'],
    ['224.0.0.251', '224.0.0.0/4'],
    ['239.255.255.250', '224.0.0.0/4'],
    ['::', '::/128'],
    ['2001:db8::1', '2001:db8::/32'],
    ['3fff:123::1', '3fff::/20'],
    ['100::1', '100::/64'],
    ['ff02::1', 'ff00::/8'],
  ])('%s is in %s', (address, prefix) => {
    expect(unroutableRange(address)?.prefix).toBe(prefix);
  });

  it.each(['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '203.0.114.1', '192.0.3.1', '223.255.255.255', '::1', 'fe80::1', 'fd00::1', '2001:db9::1', '::ffff:192.0.2.1'])(
    '%s is reachable (private, loopback, link-local and public addresses are not flagged)',
    (address) => {
      expect(unroutableRange(address)).toBeNull();
    },
  );

  it('answers for every first number of an IPv4 address, the ones it skips without parsing included', () => {
    for (let first = 0; first < 256; first++) {
      const expected = first === 0 ? '0.0.0.0/8' : first >= 240 ? '240.0.0.0/4' : first >= 224 ? '224.0.0.0/4' : undefined;
      expect(unroutableRange(`${first}.1.2.3`)?.prefix, `${first}.1.2.3`).toBe(expected);
    }
    expect(unroutableRange('1920.0.2.1')).toBeNull();
    expect(unroutableRange('')).toBeNull();
  });
});

describe('unroutable-address', () => {
  it('is an error beside the syn-timeout of a SYN to a documentation address', () => {
    const c = conv({ server: '203.0.113.94:80' }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    const verdicts = analyzeConversation(c).flows[0].verdicts;
    expect(verdicts.map((v) => `${v.code}:${v.severity}`)).toEqual(['unroutable-address:error', 'syn-timeout:error']);
    const v = verdicts[0];
    expect(v.summary).toBe('203.0.113.94 cannot be reached: it is in 203.0.113.0/24 (RFC 5737), TEST-NET-3, reserved for documentation; 3 SYNs never answered');
    expect(v.facts).toMatchObject({ address: '203.0.113.94', range: '203.0.113.0/24', rfc: 'RFC 5737', kind: 'documentation', syns: 3 });
    expect(v.packets).toEqual([1]);
  });

  it('speaks of IPv6 documentation addresses and of a refused SYN', () => {
    const c = conv({ client: '[2001:db8:1::5]:40000', server: '[2001:db8::1]:443' }).client('S', 0).server('RA', 0.02);
    const verdicts = analyzeConversation(c).flows[0].verdicts;
    expect(verdicts.map((v) => `${v.code}:${v.severity}`)).toEqual(['unroutable-address:error', 'refused:error']);
    const v = verdicts[0];
    expect(v.summary).toBe('2001:db8::1 cannot be reached: it is in 2001:db8::/32 (RFC 3849), reserved for documentation; 1 SYN answered by RST #2, most likely from a router or firewall on the way');
    expect(v.facts).toMatchObject({ address: '2001:db8::1', range: '2001:db8::/32', rfc: 'RFC 3849', kind: 'documentation', syns: 1 });
    expect(v.packets).toEqual([1]);
  });

  it('is info for a lone SYN the capture could not see fail', () => {
    const c = conv({ server: '192.0.2.10:80' }).client('S', 0);
    const other = conv({ client: '10.0.0.3:40000', server: '10.0.0.4:80' }).handshake(0.1);
    const f = analyzeConversation(c, other).flows.find((x) => x.server === '192.0.2.10:80')!;
    // The capture ended 101 ms after the SYN: too soon to call it failed, so neither verdict is an error.
    expect(f.verdicts.map((v) => `${v.code}:${v.severity}`)).toEqual(['unroutable-address:info', 'capture-ended:info']);
    const v = f.verdicts[0];
    expect(v.summary).toBe('192.0.2.10 cannot be reached: it is in 192.0.2.0/24 (RFC 5737), TEST-NET-1, reserved for documentation; 1 SYN never answered');
    expect(v.facts).toMatchObject({ address: '192.0.2.10', range: '192.0.2.0/24', syns: 1 });
    expect(v.packets).toEqual([1]);
  });

  it('is not said when the address answered (a lab network or an anonymised capture), nor of private addresses', () => {
    const answered = conv({ server: '192.0.2.10:80' }).handshake(0);
    expect(analyzeConversation(answered).flows[0].verdicts.map((v) => v.code)).toEqual([]);
    // The same exchange captured in the client's direction only: its ACKs show the SYN-ACK and the answer it missed.
    const clientOnly = conv({ server: '192.0.2.10:80' })
      .handshake(0)
      .client('PA', 0.01, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
      .server('PA', 0.02, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
      .client('A', 0.03);
    clientOnly.packets.splice(0, clientOnly.packets.length, ...clientOnly.packets.filter((_, i) => i !== 1 && i !== 4));
    const oneSided = analyzeConversation(clientOnly);
    expect(oneSided.flows[0].visibility.seen).toBe('client-only');
    expect(oneSided.flows[0].verdicts.map((v) => v.code)).toEqual([]);
    const privateHost = conv({ server: '10.9.9.9:80' }).client('S', 0).client('S', 1, '', { seq: 0xffff_fff0 }).client('S', 3, '', { seq: 0xffff_fff0 });
    expect(analyzeConversation(privateHost).flows[0].verdicts.map((v) => v.code)).toEqual(['syn-timeout']);
  });
});

corpus.describe('unroutable-address in the public corpus', () => {
  it('names 203.0.113.94 on every failed connection of PPA http_espn_fail, and nothing else there', () => {
    const r = analyzeFile(corpus.path('ppa/ppa3/http_espn_fail.pcapng'));
    const flagged = r.flows.filter((f) => f.verdicts.some((v) => v.code === 'unroutable-address'));
    // tshark: ip.dst==203.0.113.94 carries only SYNs (tcp.stream 2-6, 9 and 13-15), none answered.
    expect(flagged.map((f) => f.server)).toEqual(Array(9).fill('203.0.113.94:80'));
    for (const f of flagged) {
      expect(f.verdicts.map((v) => `${v.code}:${v.severity}`).slice(0, 2)).toEqual(['unroutable-address:error', 'syn-timeout:error']);
    }
  });
});
