// What the benchmark ran on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function protonVersion(): string {
  try {
    return execFileSync('/usr/bin/python3', ['-c', 'import proton; print(".".join(map(str, proton.VERSION)))'], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}

export interface Machine {
  cpus: number;
  model: string;
  memoryGiB: number;
  os: string;
  node: string;
  rhea: string;
  rheaPromise: string;
  rxjs: string;
  proton: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export function machine(): Machine {
  return {
    cpus: os.availableParallelism(),
    model: cpuModel(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    rhea: version('rhea'),
    rheaPromise: version('rhea-promise'),
    rxjs: version('rxjs'),
    proton: protonVersion(),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
