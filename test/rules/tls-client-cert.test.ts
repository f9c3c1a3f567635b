// Mutual TLS refused, in captures of a node TLS server (TLS 1.2, so the handshake is in the clear)
// that requires a client certificate: the verdict names the client certificate, not a cipher mismatch.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { analyzeFile } from '../../src/pipeline.js';

const sample = (name: string) => fileURLToPath(new URL(`../../samples/${name}`, import.meta.url));

describe('a client certificate the server required', () => {
  it('says the client had none when the server answers an empty Certificate with handshake_failure', () => {
    const { flows } = analyzeFile(sample('tls-client-cert.pcap'));
    const alert = flows[0].verdicts.find((v) => v.code === 'tls-alert');
    expect(alert?.severity).toBe('error');
    expect(alert?.facts).toMatchObject({ name: 'handshake_failure', from: 'server', clientCertificate: 'none' });
    expect(alert?.summary).toMatch(/the server had asked for a client certificate \(CertificateRequest #6\) and the client sent none \(an empty Certificate #8\)/);
    expect(alert?.hint).toMatch(/^Mutual TLS: the server asked for a client certificate and the client had none/);
    expect(alert?.hint).not.toMatch(/cipher suite/);
  });

  it('says the server refused the certificate when it closes after the client\'s Finished without its own, and no alert', () => {
    const { flows } = analyzeFile(sample('tls-client-cert-rejected.pcap'));
    const abandoned = flows[0].verdicts.find((v) => v.code === 'tls-handshake-abandoned');
    expect(abandoned?.severity).toBe('error');
    expect(abandoned?.facts).toMatchObject({ by: 'server', after: 'client-finished', clientCertificate: 'refused' });
    expect(abandoned?.summary).toMatch(/^the server closed \(FIN #9\) [\d.]+ ms after the client's Finished \(#8\) without finishing the TLS 1\.2 handshake .*the client sent one \(Certificate #8\): most likely it refused it/);
    expect(abandoned?.hint).toMatch(/did not accept the client's certificate/);
    // Before, the flow read as closed cleanly with no problem.
    expect(flows[0].verdicts.some((v) => v.severity === 'error')).toBe(true);
  });

  it('says the server refused the client when, in TLS 1.3, it answers the client\'s Finished with one alert-sized encrypted record and closes', () => {
    const { flows } = analyzeFile(sample('tls13-client-cert.pcap'));
    const codes = flows[0].verdicts.map((v) => v.code);
    expect(codes).not.toContain('tls-ok');
    const refused = flows[0].verdicts.find((v) => v.code === 'tls-handshake-abandoned');
    expect(refused?.severity).toBe('error');
    expect(refused?.facts).toMatchObject({ by: 'server', after: 'client-finished', chosen: 'TLS 1.3' });
    expect(refused?.summary).toMatch(/^the server answered the client's Finished \(#\d+\) with one encrypted 19-byte record \(#\d+\), the size of a TLS 1\.3 alert, and nothing else/);
    expect(refused?.hint).toMatch(/certificate_required/);
  });

  it('still calls a TLS 1.3 session that went on to carry a request and an answer OK', () => {
    const { flows } = analyzeFile(sample('tls-ok.pcap'));
    expect(flows[0].verdicts.map((v) => v.code)).toContain('tls-ok');
    expect(flows[0].verdicts.map((v) => v.code)).not.toContain('tls-handshake-abandoned');
  });

  it('does not call a TLS 1.3 server that closes with close_notify right after a handshake without data a refusal (openssl s_server, no tickets)', () => {
    const { flows } = analyzeFile(sample('tls13-close-notify.pcap'));
    const codes = flows[0].verdicts.map((v) => v.code);
    expect(codes).not.toContain('tls-handshake-abandoned');
    expect(codes).toContain('tls-ok');
  });

  it('finds the same TLS 1.3 refusal after a HelloRetryRequest, and takes the real ServerHello for the hello', () => {
    const { flows } = analyzeFile(sample('tls13-hrr-client-cert.pcap'));
    const refused = flows[0].verdicts.find((v) => v.code === 'tls-handshake-abandoned');
    expect(refused?.facts).toMatchObject({ by: 'server', after: 'client-finished', chosen: 'TLS 1.3' });
    expect(flows[0].verdicts.map((v) => v.code)).not.toContain('tls-ok');
    // #6 is the HelloRetryRequest, #9 the ServerHello.
    expect(flows[0].app?.tls?.serverHello?.no).toBe(9);
  });
});
