// A stand-in for the `cap` module (live --source cap, loaded through TCPWHY_CAP_MODULE) that plays the
// records of the classic pcap file named by TCPWHY_REPLAY_PCAP into cap's buffer, one per event-loop
// turn, as cap does with captured packets: `live` runs whole with no interface and no capture rights.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';

export class Cap extends EventEmitter {
  static deviceList() {
    return [{ name: 'replay', addresses: [], flags: '' }];
  }

  open(_iface, _filter, _bufSize, buffer) {
    const file = readFileSync(process.env.TCPWHY_REPLAY_PCAP);
    const little = file.readUInt32LE(0) === 0xa1b2c3d4;
    const u32 = (off) => (little ? file.readUInt32LE(off) : file.readUInt32BE(off));
    const linkType = u32(20);
    let off = 24;
    const next = () => {
      if (this.closed || off + 16 > file.length) return;
      const caplen = u32(off + 8);
      file.copy(buffer, 0, off + 16, off + 16 + caplen);
      off += 16 + caplen;
      this.emit('packet', caplen, false);
      setImmediate(next);
    };
    setImmediate(next);
    return linkType === 1 ? 'ETHERNET' : `Unknown linktype ${linkType}`;
  }

  close() {
    this.closed = true;
  }
}
