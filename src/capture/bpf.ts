// A classic BPF interpreter: runs the programs libpcap compiles from a pcap-filter expression
// (`tcpdump -ddd EXPR`) on packets read from a file, with the semantics of libpcap's own
// bpf_filter(): registers and loads are unsigned 32-bit, multi-byte loads are big-endian, and a
// load past the captured bytes rejects the packet, as the kernel does. `len` is the packet's
// length on the wire, so a packet the snap length cut is judged on its captured bytes and its
// real length, as tcpdump -r judges it.

/** Instruction classes and fields (linux/filter.h, pcap/bpf.h). */
const CLASS = { LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07 } as const;
const SIZE = { W: 0x00, H: 0x08, B: 0x10 } as const;
const MODE = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0 } as const;
const ALU = { ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0 } as const;
const JMP = { JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40 } as const;
const SRC_X = 0x08;
const RVAL = { K: 0x00, X: 0x08, A: 0x10 } as const;
const MISC = { TAX: 0x00, TXA: 0x80 } as const;

/** Scratch memory words (BPF_MEMWORDS). */
const MEMWORDS = 16;
/** The most instructions a program may have (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** Why a program text is not a valid classic BPF program. */
export class BpfProgramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BpfProgramError';
  }
}

/** A validated program; run() allocates nothing. */
export class BpfProgram {
  /** code, jt, jf, k for each instruction. */
  private readonly code: Uint16Array;
  private readonly jt: Uint8Array;
  private readonly jf: Uint8Array;
  private readonly k: Uint32Array;
  private readonly mem = new Uint32Array(MEMWORDS);

  /** `insns` holds [code, jt, jf, k] per instruction, as `tcpdump -ddd` prints them. */
  constructor(insns: ReadonlyArray<readonly [number, number, number, number]>) {
    validate(insns);
    const n = insns.length;
    this.code = new Uint16Array(n);
    this.jt = new Uint8Array(n);
    this.jf = new Uint8Array(n);
    this.k = new Uint32Array(n);
    insns.forEach(([code, jt, jf, k], i) => {
      this.code[i] = code;
      this.jt[i] = jt;
      this.jf[i] = jf;
      this.k[i] = k;
    });
  }

  /** Reads `tcpdump -ddd` output: a count line, then one `code jt jf k` line per instruction. */
  static parse(text: string): BpfProgram {
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const count = Number(lines[0]);
    if (!Number.isInteger(count) || count !== lines.length - 1) throw new BpfProgramError(`expected a count line and ${lines[0]} instructions, got ${lines.length - 1} lines`);
    const insns = lines.slice(1).map((line, i) => {
      const f = line.split(/\s+/).map(Number);
      if (f.length !== 4 || f.some((x) => !Number.isInteger(x) || x < 0)) throw new BpfProgramError(`instruction ${i}: '${line}' is not 'code jt jf k'`);
      return f as [number, number, number, number];
    });
    return new BpfProgram(insns);
  }

  get length(): number {
    return this.code.length;
  }

  /**
   * Runs the program on the captured bytes b[off, off + caplen) of a packet `wirelen` bytes long
   * on the wire. Returns what the program returned: 0 rejects, anything else accepts (libpcap's
   * snap length for the packet).
   */
  run(b: Uint8Array, off: number, caplen: number, wirelen: number): number {
    const code = this.code;
    const jt = this.jt;
    const jf = this.jf;
    const ks = this.k;
    const mem = this.mem;
    let a = 0;
    let x = 0;
    let pc = 0;
    for (;;) {
      const op = code[pc];
      const k = ks[pc];
      switch (op) {
        case 0x06: // RET K
          return k;
        case 0x16: // RET A
          return a;
        case 0x0e: // RET X
          return x;

        case 0x20: // LD W ABS
          if (k + 4 > caplen) return 0;
          a = u32(b, off + k);
          break;
        case 0x28: // LD H ABS
          if (k + 2 > caplen) return 0;
          a = (b[off + k] << 8) | b[off + k + 1];
          break;
        case 0x30: // LD B ABS
          if (k >= caplen) return 0;
          a = b[off + k];
          break;
        case 0x40: // LD W IND
          if (x + k + 4 > caplen) return 0;
          a = u32(b, off + x + k);
          break;
        case 0x48: // LD H IND
          if (x + k + 2 > caplen) return 0;
          a = (b[off + x + k] << 8) | b[off + x + k + 1];
          break;
        case 0x50: // LD B IND
          if (x + k >= caplen) return 0;
          a = b[off + x + k];
          break;
        case 0x80: // LD W LEN
          a = wirelen;
          break;
        case 0x81: // LDX W LEN
          x = wirelen;
          break;
        case 0x00: // LD IMM
          a = k;
          break;
        case 0x01: // LDX IMM
          x = k;
          break;
        case 0x60: // LD MEM
          a = mem[k];
          break;
        case 0x61: // LDX MEM
          x = mem[k];
          break;
        case 0xb1: // LDX B MSH
          if (k >= caplen) return 0;
          x = (b[off + k] & 0x0f) << 2;
          break;
        case 0x02: // ST
          mem[k] = a;
          break;
        case 0x03: // STX
          mem[k] = x;
          break;

        case 0x05: // JMP JA
          pc += k;
          break;
        case 0x15: // JMP JEQ
          pc += a === k ? jt[pc] : jf[pc];
          break;
        case 0x25: // JMP JGT
          pc += a > k ? jt[pc] : jf[pc];
          break;
        case 0x35: // JMP JGE
          pc += a >= k ? jt[pc] : jf[pc];
          break;
        case 0x45: // JMP JSET
          pc += (a & k) !== 0 ? jt[pc] : jf[pc];
          break;
        case 0x1d: // JMP JEQ SRC_X
          pc += a === x ? jt[pc] : jf[pc];
          break;
        case 0x2d: // JMP JGT SRC_X
          pc += a > x ? jt[pc] : jf[pc];
          break;
        case 0x3d: // JMP JGE SRC_X
          pc += a >= x ? jt[pc] : jf[pc];
          break;
        case 0x4d: // JMP JSET SRC_X
          pc += (a & x) !== 0 ? jt[pc] : jf[pc];
          break;

        case 0x04: // ALU ADD
          a = (a + k) >>> 0;
          break;
        case 0x14: // ALU SUB
          a = (a - k) >>> 0;
          break;
        case 0x24: // ALU MUL
          a = Math.imul(a, k) >>> 0;
          break;
        case 0x34: // ALU DIV
          a = Math.floor(a / k); // k is not 0: validate() refuses it
          break;
        case 0x94: // ALU MOD
          a = a % k;
          break;
        case 0x54: // ALU AND
          a = (a & k) >>> 0;
          break;
        case 0x44: // ALU OR
          a = (a | k) >>> 0;
          break;
        case 0xa4: // ALU XOR
          a = (a ^ k) >>> 0;
          break;
        case 0x64: // ALU LSH
          a = k < 32 ? (a << k) >>> 0 : 0;
          break;
        case 0x74: // ALU RSH
          a = k < 32 ? a >>> k : 0;
          break;
        case 0x0c: // ALU ADD SRC_X
          a = (a + x) >>> 0;
          break;
        case 0x1c: // ALU SUB SRC_X
          a = (a - x) >>> 0;
          break;
        case 0x2c: // ALU MUL SRC_X
          a = Math.imul(a, x) >>> 0;
          break;
        case 0x3c: // ALU DIV SRC_X
          if (x === 0) return 0;
          a = Math.floor(a / x);
          break;
        case 0x9c: // ALU MOD SRC_X
          if (x === 0) return 0;
          a = a % x;
          break;
        case 0x5c: // ALU AND SRC_X
          a = (a & x) >>> 0;
          break;
        case 0x4c: // ALU OR SRC_X
          a = (a | x) >>> 0;
          break;
        case 0xac: // ALU XOR SRC_X
          a = (a ^ x) >>> 0;
          break;
        case 0x6c: // ALU LSH SRC_X
          a = x < 32 ? (a << x) >>> 0 : 0;
          break;
        case 0x7c: // ALU RSH SRC_X
          a = x < 32 ? a >>> x : 0;
          break;
        case 0x84: // ALU NEG
          a = -a >>> 0;
          break;

        case 0x07: // MISC TAX
          x = a;
          break;
        case 0x87: // MISC TXA
          a = x;
          break;
        default:
          return 0; // unreachable: validate() accepts only the opcodes above
      }
      pc++;
    }
  }
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Every opcode run() knows. */
const KNOWN_OPCODES = new Set<number>([
  CLASS.RET | RVAL.K, CLASS.RET | RVAL.A, CLASS.RET | RVAL.X,
  ...[SIZE.W, SIZE.H, SIZE.B].flatMap((size) => [CLASS.LD | size | MODE.ABS, CLASS.LD | size | MODE.IND]),
  CLASS.LD | SIZE.W | MODE.LEN, CLASS.LDX | SIZE.W | MODE.LEN,
  CLASS.LD | MODE.IMM, CLASS.LDX | MODE.IMM, CLASS.LD | MODE.MEM, CLASS.LDX | MODE.MEM,
  CLASS.LDX | SIZE.B | MODE.MSH, CLASS.ST, CLASS.STX,
  ...Object.values(JMP).flatMap((op) => (op === JMP.JA ? [CLASS.JMP | op] : [CLASS.JMP | op, CLASS.JMP | op | SRC_X])),
  ...Object.values(ALU).flatMap((op) => (op === ALU.NEG ? [CLASS.ALU | op] : [CLASS.ALU | op, CLASS.ALU | op | SRC_X])),
  CLASS.MISC | MISC.TAX, CLASS.MISC | MISC.TXA,
]);

/**
 * The checks of libpcap's bpf_validate(): known opcodes, jumps that land inside the program and
 * only forward (so every run ends), scratch memory indexes in range, no division by a constant
 * 0, and a last instruction that returns.
 */
function validate(insns: ReadonlyArray<readonly [number, number, number, number]>): void {
  const n = insns.length;
  if (n === 0 || n > BPF_MAXINSNS) throw new BpfProgramError(`a program has 1 to ${BPF_MAXINSNS} instructions, this one ${n}`);
  insns.forEach(([code, jt, jf, k], i) => {
    const at = `instruction ${i} (${code} ${jt} ${jf} ${k})`;
    if (!KNOWN_OPCODES.has(code)) throw new BpfProgramError(`${at}: unknown opcode`);
    if (jt > 255 || jf > 255 || k > 0xffffffff) throw new BpfProgramError(`${at}: field out of range`);
    const cls = code & 0x07;
    if (cls === CLASS.JMP) {
      const targets = (code & 0xf0) === JMP.JA ? [k] : [jt, jf];
      if (targets.some((t) => i + 1 + t >= n)) throw new BpfProgramError(`${at}: jumps past the end of the program`);
    }
    const usesMem = cls === CLASS.ST || cls === CLASS.STX || ((cls === CLASS.LD || cls === CLASS.LDX) && (code & 0xe0) === MODE.MEM);
    if (usesMem && k >= MEMWORDS) throw new BpfProgramError(`${at}: scratch memory index ${k} out of range`);
    if (cls === CLASS.ALU && (code & SRC_X) === 0 && ((code & 0xf0) === ALU.DIV || (code & 0xf0) === ALU.MOD) && k === 0) {
      throw new BpfProgramError(`${at}: division by 0`);
    }
  });
  if ((insns[n - 1][0] & 0x07) !== CLASS.RET) throw new BpfProgramError(`the last instruction does not return`);
}
