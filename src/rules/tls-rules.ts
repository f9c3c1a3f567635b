import { TLS13_ENCRYPTED_ALERT_LENGTH, type TlsAlertFacts, type TlsFacts } from '../dissect/tls.js';
import type { FlowFacts } from './facts.js';
import { fmtDuration } from './format.js';
import type { FlowRule } from './rules.js';
import { SHOWS } from './shows.js';

// Why a TLS connection (wss://, https://) failed before any application byte: a server that does
// not speak TLS on that port, a plaintext alert from either side, or a side that walked away from
// the handshake; and, when it worked, what was agreed.

function helloText(t: TlsFacts): string {
  const h = t.clientHello;
  if (!h) return 'the client\'s TLS record';
  const parts = [`ClientHello #${h.no}`];
  if (h.sni) parts.push(`SNI ${h.sni}`);
  parts.push(`offering ${h.versions.join(', ')}`);
  if (h.alpn.length) parts.push(`ALPN ${h.alpn.join(', ')}`);
  return parts.join(', ');
}

const CERT_REJECTED =
  "The client rejected the server's certificate: not signed by a CA it trusts (a self-signed or internal CA missing from the client's trust store, or an intermediate missing from the chain the server sends), expired, or issued for another name than the one the client asked for. Node reports UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED or ERR_TLS_CERT_ALTNAME_INVALID; browsers NET::ERR_CERT_*. Serve the full chain (nginx ssl_certificate with the intermediates), or add the CA on the client (NODE_EXTRA_CA_CERTS).";

const ALERT_HINTS: Record<string, string> = {
  protocol_version:
    'The two sides share no TLS version: the server requires versions the client did not offer (a TLS 1.3-only server and a client capped at 1.2, or an old client offering 1.0/1.1 to a modern server). Align the versions: the client\'s minVersion/maxVersion, nginx ssl_protocols, or the load balancer\'s TLS security policy.',
  inappropriate_fallback: 'The client retried with a lower TLS version after a failure and the server refused the downgrade: look at why the first attempt failed.',
  handshake_failure:
    'No cipher suite, key-exchange group or signature algorithm in common (or, from some servers, no certificate fits). Compare the client\'s offer with the server\'s ssl_ciphers / ssl_ecdh_curve / security policy; an old client against a modern policy is the usual case.',
  insufficient_security: 'The server requires stronger ciphers than the client offered. Update the client, or relax the server\'s policy.',
  unrecognized_name: 'The server has no certificate or virtual host for the name in the SNI: a wrong hostname in the URL, or a server/load balancer missing that name (server_name in nginx, a listener certificate or rule on the load balancer).',
  unknown_ca: CERT_REJECTED,
  bad_certificate: CERT_REJECTED,
  certificate_unknown: CERT_REJECTED,
  certificate_expired: CERT_REJECTED,
  unsupported_certificate: CERT_REJECTED,
  certificate_revoked: CERT_REJECTED,
  certificate_required: 'Mutual TLS: the server requires a client certificate and the client sent none. Configure the client certificate and key (ws/https options cert and key), or turn off client verification on the server (ssl_verify_client).',
  access_denied: 'The server refused this client after the handshake began (a client-certificate or policy check).',
  no_application_protocol: 'No application protocol in common through ALPN: the server does not offer what the client asked for (h2 only, or http/1.1 only). Check the ALPN settings on both sides.',
  decrypt_error: 'A handshake signature or Finished check failed: a broken middlebox, a key that does not match the certificate, or a TLS implementation bug.',
  unexpected_message: 'One side sent a handshake message out of order: mismatched TLS implementations or a middlebox rewriting the handshake.',
};

/** A side's first FIN or RST, whichever came first. */
function firstClose(side: FlowFacts['clientSide']): { no: number; ts: number } | null {
  if (side.fin && side.rst) return side.fin.ts <= side.rst.ts ? side.fin : side.rst;
  return side.fin ?? side.rst;
}

/** Both sides went on to encrypted records after the hellos. */
function handshakeCompleted(t: TlsFacts): boolean {
  return t.clientHello !== null && t.serverHello !== null && t.encryptedRecords.client > 0 && t.encryptedRecords.server > 0;
}

/**
 * The alert that ended the handshake: a fatal one, or a warning other than close_notify when the
 * handshake stopped there. A warning the handshake went on past (unrecognized_name from a server
 * with no certificate for that name, before its ServerHello) ended nothing.
 */
function endingAlert(t: TlsFacts): TlsAlertFacts | null {
  const fatal = t.alerts.find((a) => a.level === 'fatal');
  if (fatal) return fatal;
  return handshakeCompleted(t) ? null : (t.alerts.find((a) => a.name !== 'close_notify') ?? null);
}

/**
 * A client that drops the connection on receiving the server's Finished (Node checks the
 * certificate then) closes within this long of it, plus the capture point's round trip to the
 * client: 0.8 ms on an idle machine, under 10 ms on a loaded one. A browser's unused connection
 * (http_ipv6.pcap) closed 28 ms to seconds after it.
 */
export const CLIENT_REJECT_WINDOW_MICROS = 20_000;
/**
 * A starved client (a loaded machine, a slow device) is slow at everything: it closes "at once"
 * within this many of its own handshake turns (the server's certificate to its Finished), when that
 * is longer than the window. Node closes in about one turn; browsers leave unused connections 15
 * turns and more after the handshake.
 */
const CLIENT_REJECT_TURNS = 4;

/** The client's only encrypted record was its Finished, and it sent no request before closing. */
function clientLeftWithoutRequest(f: FlowFacts, t: TlsFacts): { finished: { no: number; ts: number }; close: { no: number; ts: number } } | null {
  const finished = t.firstEncrypted.client;
  const close = firstClose(f.clientSide);
  const serverClose = firstClose(f.serverSide);
  if (!t.serverHello || !finished || t.encryptedRecords.client !== 1 || t.encryptedRecords.server === 0 || !close) return null;
  if (t.missed.client !== null || finished.length === TLS13_ENCRYPTED_ALERT_LENGTH || (serverClose && serverClose.ts < close.ts)) return null;
  return { finished, close };
}

/** The server does not speak TLS on this port: it answered the ClientHello in plain text. */
const tlsPlaintextServer: FlowRule = {
  code: 'tls-plaintext-server',
  needs: SHOWS.TLS,
  evaluate(f) {
    const t = f.app?.tls;
    // Only a server stream seen from its first byte (its SYN-ACK captured) can be said not to start with a record.
    if (!t?.serverNotTls || f.synAcks.length === 0) return null;
    const answer = t.serverNotTls;
    const http = answer.text.startsWith('HTTP/');
    return {
      code: 'tls-plaintext-server',
      severity: 'error',
      summary: `the client started TLS (${helloText(t)}) but the server answered in plain text #${answer.no}: "${answer.text.slice(0, 40)}": ${http ? 'a plain HTTP server on this port' : 'this port does not speak TLS'}`,
      packets: [t.clientHello?.no ?? f.clientSide.firstData?.no ?? f.firstPacket, answer.no],
      facts: { clientHello: t.clientHello?.no ?? null, sni: t.clientHello?.sni ?? null, answerPacket: answer.no, answer: answer.text, plainHttp: http },
      hint: 'A wss:// or https:// URL points at a port that serves ws:// or http://. The client\'s TLS library reports "wrong version number" (OpenSSL), EPROTO (Node) or ERR_SSL_PROTOCOL_ERROR (browsers). Use ws:// or http://, or the port where TLS is served; behind a load balancer or proxy, the listener sends TLS on to a backend that expects plain text (TLS terminated twice, or not at all where it should be).',
    };
  },
};

/** What the capture says of the client's certificate, with the fix for each case. */
const CLIENT_CERT_HINTS = {
  none: "Mutual TLS: the server asked for a client certificate and the client had none to send, and the server requires one. Give the client its certificate and key (Node's https and tls options cert and key, curl --cert and --key), or make the server's check optional (nginx ssl_verify_client optional).",
  refused: "Mutual TLS: the server did not accept the client's certificate: not signed by a CA the server trusts for clients (nginx ssl_client_certificate), expired or not yet valid, revoked, or without the clientAuth extended key usage. The server's TLS log names the reason.",
  unseen: "Mutual TLS: the server asked for a client certificate and ended the handshake after the client's answer, which the capture does not show (a packet it missed, or a certificate chain too long to read): a certificate missing or not accepted. The server's TLS log names which.",
} as const;

/** Alerts about a certificate: from a server that asked for the client's, they answer it. */
const CERTIFICATE_ALERTS = new Set(['handshake_failure', 'bad_certificate', 'unsupported_certificate', 'certificate_revoked', 'certificate_expired', 'certificate_unknown', 'unknown_ca', 'access_denied', 'certificate_required']);
/** Alerts that say a certificate came and was not accepted. */
const CERTIFICATE_REFUSED_ALERTS = new Set(['bad_certificate', 'unsupported_certificate', 'certificate_revoked', 'certificate_expired', 'certificate_unknown', 'unknown_ca']);

interface ClientCertificateAnswer {
  /** The server's CertificateRequest. */
  request: { no: number };
  /** The client had none (an empty Certificate), sent one the server refused, or the capture cannot tell. */
  verdict: keyof typeof CLIENT_CERT_HINTS;
  /** The client's Certificate message, when the capture holds it. */
  certificatePacket: number | null;
}

/**
 * How the client answered the server's CertificateRequest, judged when the server ended the
 * handshake at `endedAt`, with the alert it sent (null: none). Null when the server asked for no
 * certificate (or only after that point).
 */
function clientCertificateAnswer(t: TlsFacts, endedAt: number, alert: string | null): ClientCertificateAnswer | null {
  const request = t.certificateRequest;
  if (!request || request.ts > endedAt) return null;
  // TLS 1.2 requires a Certificate message, empty when the client has none (RFC 5246 7.4.6): its absence is the capture's.
  const sent = t.clientCertificate && t.clientCertificate.ts <= endedAt ? t.clientCertificate : null;
  if (sent) return { request, verdict: sent.empty ? 'none' : 'refused', certificatePacket: sent.no };
  // An alert about a certificate says whether one came, though the capture did not hold it.
  const verdict = alert === 'certificate_required' ? 'none' : alert !== null && CERTIFICATE_REFUSED_ALERTS.has(alert) ? 'refused' : 'unseen';
  return { request, verdict, certificatePacket: null };
}

/** "…(CertificateRequest #N)" and what the capture shows of the client's answer; `refusal` follows a certificate sent. */
function clientCertificateText(answer: ClientCertificateAnswer, lead: string, refusal: string): string {
  const asked = `${lead} (CertificateRequest #${answer.request.no})`;
  if (answer.certificatePacket === null) return `${asked}; the capture does not show the client's Certificate`;
  return answer.verdict === 'none' ? `${asked} and the client sent none (an empty Certificate #${answer.certificatePacket})` : `${asked} and the client sent one (Certificate #${answer.certificatePacket})${refusal}`;
}

/** A plaintext alert ended the handshake. */
const tlsAlert: FlowRule = {
  code: 'tls-alert',
  needs: SHOWS.TLS,
  evaluate(f) {
    const t = f.app?.tls;
    if (!t) return null;
    const a = endingAlert(t) ?? t.alerts.find((x) => x.name !== 'close_notify');
    if (!a) return null;
    const ignored = a.level === 'warning' && handshakeCompleted(t);
    const certificate = a.from === 'server' && a.level === 'fatal' && CERTIFICATE_ALERTS.has(a.name) ? clientCertificateAnswer(t, a.ts, a.name) : null;
    const certificateText = certificate ? clientCertificateText(certificate, '; the server had asked for a client certificate', '') : '';
    const after = a.from === 'server' ? (t.clientHello ? ` ${fmtDuration(a.ts - t.clientHello.ts)} after the ClientHello` : '') : t.serverHello ? ` ${fmtDuration(a.ts - t.serverHello.ts)} after the ServerHello #${t.serverHello.no}${t.serverHello.version ? ` (${t.serverHello.version})` : ''}` : '';
    return {
      code: 'tls-alert',
      severity: ignored ? 'info' : a.level === 'fatal' ? 'error' : 'warning',
      summary: `TLS ${a.level} alert ${a.name} (${a.description}) from the ${a.from} #${a.no}${after}${certificateText}; ${helloText(t)}${ignored ? '; the handshake went on past it' : ''}`,
      packets: [t.clientHello?.no, t.serverHello?.no, a.no].filter((x): x is number => x !== undefined),
      facts: {
        from: a.from,
        level: a.level,
        description: a.description,
        name: a.name,
        alertPacket: a.no,
        sni: t.clientHello?.sni ?? null,
        offered: t.clientHello?.versions ?? [],
        chosen: t.serverHello?.version ?? null,
        handshakeWentOn: ignored,
        clientCertificate: certificate?.verdict ?? null,
      },
      hint: ignored
        ? `A warning-level alert the ${a.from === 'server' ? 'client' : 'server'} accepted: the handshake completed. ${ALERT_HINTS[a.name] ?? ''}`.trim()
        : certificate
          ? CLIENT_CERT_HINTS[certificate.verdict]
          : ALERT_HINTS[a.name] ?? `The ${a.from} ended the handshake with ${a.name}: see RFC 8446 section 6.2 for its meaning, and the ${a.from}'s TLS logs for the detail.`,
    };
  },
};

/** A refusal follows the client's Finished within this long; a server closing an idle connection does so later. */
const REFUSAL_WITHIN_MICROS = 1_000_000;

/**
 * TLS 1.3: the server answered the client's first encrypted records (its Finished) with one
 * encrypted record the size of an alert and nothing else (no session ticket, no data), soon after,
 * and closed: it refused the client at the end of the handshake. Null otherwise.
 */
function serverRefusedAfterClientFinished(f: FlowFacts, t: TlsFacts): { alert: { no: number; ts: number }; finished: { no: number; ts: number }; close: { no: number; ts: number } } | null {
  const after = t.serverAfterClient;
  const finished = t.firstEncrypted.client;
  if (t.serverHello?.version !== 'TLS 1.3' || !after || !finished || after.records !== 1 || after.first.length !== TLS13_ENCRYPTED_ALERT_LENGTH) return null;
  if (after.first.ts - finished.ts > REFUSAL_WITHIN_MICROS || t.missed.server !== null || f.serverSide.missedBytes > 0) return null;
  // The client had gone on past its Finished (a request): a server closing an idle session right
  // after the handshake sends a close_notify of the same size. A client that had closed
  // (close_notify, its own alert, a FIN) gets the server's close_notify back.
  const clientClose = firstClose(f.clientSide);
  if (after.clientRecords < 2 || after.clientLastLength === TLS13_ENCRYPTED_ALERT_LENGTH || (clientClose && clientClose.ts <= after.first.ts)) return null;
  const close = firstClose(f.serverSide);
  return close && close.ts >= after.first.ts ? { alert: after.first, finished, close } : null;
}

/** A side walked away from the handshake without a plaintext alert. */
const tlsHandshakeAbandoned: FlowRule = {
  code: 'tls-handshake-abandoned',
  needs: SHOWS.TLS,
  evaluate(f) {
    const t = f.app?.tls;
    if (!t || t.serverNotTls || endingAlert(t) || !t.clientHello) return null;
    const clientClose = firstClose(f.clientSide);
    const serverClose = firstClose(f.serverSide);
    const how = (side: FlowFacts['clientSide']) => `${side.fin && (!side.rst || side.fin.ts <= side.rst.ts) ? 'FIN' : 'RST'} #${firstClose(side)!.no}`;
    // The server closed without a byte of handshake.
    const serverUnseen = f.serverSide.missedBytes > 0 || t.missed.server !== null;
    if (!t.serverHello && t.encryptedRecords.server === 0 && f.serverSide.bytes === 0 && !serverUnseen && serverClose && (!clientClose || serverClose.ts <= clientClose.ts)) {
      return {
        code: 'tls-handshake-abandoned',
        severity: 'error',
        summary: `the server closed (${how(f.serverSide)}) ${fmtDuration(serverClose.ts - t.clientHello.ts)} after the ${helloText(t)} without answering it`,
        packets: [t.clientHello.no, serverClose.no],
        facts: { by: 'server', sni: t.clientHello.sni, offered: t.clientHello.versions, closePacket: serverClose.no },
        hint: 'The server (or a load balancer or proxy in front of it) took the ClientHello and hung up: no certificate or route for that SNI name (SNI-based routing without a default), a TLS version or cipher floor it enforces by closing instead of alerting, or a service that is not TLS at all and drops what it cannot parse. Try the same name with openssl s_client -connect host:port -servername NAME.',
      };
    }
    // TLS 1.2 and older: the client sent its Finished, and the server closed instead of sending its own.
    const clientFinished = t.firstEncrypted.client;
    if (
      t.serverHello &&
      t.serverHello.version !== 'TLS 1.3' &&
      clientFinished &&
      t.encryptedRecords.server === 0 &&
      !serverUnseen &&
      serverClose &&
      serverClose.ts >= clientFinished.ts &&
      (!clientClose || serverClose.ts <= clientClose.ts)
    ) {
      const certificate = clientCertificateAnswer(t, serverClose.ts, null);
      const certificateText = certificate ? clientCertificateText(certificate, '; it had asked for a client certificate', ': most likely it refused it') : '';
      return {
        code: 'tls-handshake-abandoned',
        severity: 'error',
        summary: `the server closed (${how(f.serverSide)}) ${fmtDuration(serverClose.ts - clientFinished.ts)} after the client's Finished (#${clientFinished.no}) without finishing the ${t.serverHello.version} handshake (no ChangeCipherSpec and Finished of its own)${certificateText}; ${helloText(t)}`,
        packets: [t.clientHello.no, t.serverHello.no, ...(certificate ? [certificate.request.no] : []), clientFinished.no, serverClose.no],
        facts: { by: 'server', after: 'client-finished', sni: t.clientHello.sni, chosen: t.serverHello.version, closePacket: serverClose.no, clientCertificate: certificate?.verdict ?? null },
        hint: certificate
          ? `${CLIENT_CERT_HINTS[certificate.verdict]} Some servers close without an alert when they refuse it: Node's with requestCert and rejectUnauthorized do. An application that drops the connection once the handshake has passed its checks looks the same from outside.`
          : "The server dropped the handshake at its last step without an alert: a key exchange it could not complete, or a check it failed the client on after the hellos (an access policy). The server's TLS log says which.",
      };
    }
    const refused = serverRefusedAfterClientFinished(f, t);
    if (refused) {
      return {
        code: 'tls-handshake-abandoned',
        severity: 'error',
        summary: `the server answered the client's Finished (#${refused.finished.no}) with one encrypted ${TLS13_ENCRYPTED_ALERT_LENGTH}-byte record (#${refused.alert.no}), the size of a TLS 1.3 alert, and nothing else, and closed (${how(f.serverSide)}): most likely it refused the client at the end of the handshake (an answer of 2 bytes would look the same); ${helloText(t)}`,
        packets: [t.clientHello.no, t.serverHello!.no, refused.finished.no, refused.alert.no, refused.close.no],
        facts: { by: 'server', after: 'client-finished', sni: t.clientHello.sni, chosen: t.serverHello!.version, closePacket: refused.close.no, alertPacket: refused.alert.no },
        hint: "In TLS 1.3 the server checks the client's certificate once the client's Finished has come, and answers a failure with an encrypted alert: most often certificate_required (it requires a client certificate, mutual TLS, and the client sent none) or a client certificate it refused (unknown_ca, bad_certificate). The server's TLS log names it; openssl s_client -connect host:port -cert client.pem -key client.key shows the alert from the client's side.",
      };
    }
    // The client finished a TLS 1.2 handshake and dropped it at once.
    const left = clientRejectedAfterHandshake(f, t);
    if (left) {
      return {
        code: 'tls-handshake-abandoned',
        severity: 'error',
        summary: `the client finished the ${t.serverHello!.version} handshake (#${left.finished.no}) and closed (${how(f.clientSide)}) ${fmtDuration(left.close.ts - left.finished.ts)} later without sending a request: it rejected what it got, most likely the server's certificate; ${helloText(t)}`,
        packets: [t.clientHello.no, t.serverHello!.no, left.finished.no, left.close.no],
        facts: { by: 'client', after: 'handshake', sni: t.clientHello.sni, chosen: t.serverHello!.version, closePacket: left.close.no },
        hint: `Some clients check the certificate only once the handshake is done and then drop the connection without an alert: Node does (the error is DEPTH_ZERO_SELF_SIGNED_CERT, UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED or ERR_TLS_CERT_ALTNAME_INVALID). ${CERT_REJECTED} If the client is a health check that only tests the port, nothing is wrong.`,
      };
    }
    // The server answered; the client never finished its side (unless the capture missed its bytes).
    if (t.serverHello && t.missed.client === null && clientClose && (!serverClose || clientClose.ts <= serverClose.ts)) {
      const enc = t.firstEncrypted.client;
      const alertSized = enc !== null && enc.length === TLS13_ENCRYPTED_ALERT_LENGTH && t.encryptedRecords.client === 1;
      if (enc !== null && !alertSized) return null;
      return {
        code: 'tls-handshake-abandoned',
        severity: 'error',
        summary: alertSized
          ? `the client sent one encrypted ${enc!.length}-byte record #${enc!.no} (the size of a TLS 1.3 alert) and closed (${how(f.clientSide)}) after the server's ${t.serverHello.version} handshake (ServerHello #${t.serverHello.no}): it most likely rejected the server's certificate; ${helloText(t)}`
          : `the client closed (${how(f.clientSide)}) after the server's ${t.serverHello.version} handshake (ServerHello #${t.serverHello.no}) without finishing its own: it rejected the certificate or the parameters; ${helloText(t)}`,
        packets: [t.clientHello.no, t.serverHello.no, ...(enc ? [enc.no] : []), clientClose.no],
        facts: { by: 'client', sni: t.clientHello.sni, chosen: t.serverHello.version, encryptedAlertLikely: alertSized, closePacket: clientClose.no },
        hint: CERT_REJECTED,
      };
    }
    return null;
  },
};

/**
 * A TLS 1.2 client that finished a full handshake (the server's certificate was in the clear) and
 * closed at once on the server's Finished, without a request: it rejected the certificate after the
 * handshake, as Node does. A resumed session (no certificate), a TLS 1.3 handshake (the client
 * checks the certificate before its Finished) or a close that came later (a connection opened
 * ahead of need) says nothing about the certificate.
 */
function clientRejectedAfterHandshake(f: FlowFacts, t: TlsFacts): { finished: { no: number; ts: number }; close: { no: number; ts: number } } | null {
  const left = clientLeftWithoutRequest(f, t);
  const serverFinished = t.firstEncrypted.server;
  if (!left || !serverFinished || !t.serverCertificate || t.serverHello!.version === 'TLS 1.3' || t.missed.server !== null) return null;
  const toClient = (f.analysis?.handshake?.synAckToAckMs ?? 0) * 1000;
  const turn = Math.max(0, left.finished.ts - t.serverCertificate.ts - toClient);
  const after = left.close.ts - serverFinished.ts;
  return after >= 0 && after <= Math.max(CLIENT_REJECT_WINDOW_MICROS, CLIENT_REJECT_TURNS * turn) + toClient ? left : null;
}

/**
 * The unanswered client bytes `requestPacket` started are the client's handshake: its Finished was
 * its only encrypted record, and no request followed. No answer is owed to them.
 */
export function isTlsHandshakeOnly(f: FlowFacts, requestPacket: number): boolean {
  const t = f.app?.tls;
  const finished = t?.firstEncrypted.client;
  return !!t && !!finished && t.encryptedRecords.client === 1 && t.missed.client === null && requestPacket <= finished.no;
}

/** The handshake completed: what was agreed (the content is encrypted). */
const tlsOk: FlowRule = {
  code: 'tls-ok',
  needs: SHOWS.TLS,
  evaluate(f) {
    const t = f.app?.tls;
    if (!t?.serverHello || !t.clientHello || !handshakeCompleted(t) || endingAlert(t) || clientRejectedAfterHandshake(f, t) || serverRefusedAfterClientFinished(f, t)) return null;
    const h = t.serverHello;
    const left = clientLeftWithoutRequest(f, t);
    const unused = left ? `; the client sent no request and ${left.close.no === f.clientSide.rst?.no ? 'reset' : 'closed'} the connection (#${left.close.no}) ${fmtDuration(left.close.ts - left.finished.ts)} after its Finished` : '';
    return {
      code: 'tls-ok',
      severity: 'info',
      summary: `TLS handshake done: ${h.version}, cipher ${h.cipher}${t.clientHello.sni ? `, SNI ${t.clientHello.sni}` : ''}${h.alpn ? `, ALPN ${h.alpn}` : t.clientHello.alpn.length ? `, ALPN offered ${t.clientHello.alpn.join(', ')}` : ''} (ClientHello #${t.clientHello.no}, ServerHello #${h.no}); ${t.encryptedRecords.client} + ${t.encryptedRecords.server} encrypted records: HTTP and WebSocket inside are not visible${unused}`,
      packets: [t.clientHello.no, h.no],
      facts: { version: h.version, cipher: h.cipher, sni: t.clientHello.sni, alpn: h.alpn, alpnOffered: t.clientHello.alpn, encryptedRecords: t.encryptedRecords, certificateInClear: t.serverCertificate !== null, noRequest: left !== null },
      hint: '',
    };
  },
};

export const TLS_RULES: FlowRule[] = [tlsPlaintextServer, tlsAlert, tlsHandshakeAbandoned, tlsOk];
