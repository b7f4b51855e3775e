// Counts what one process sends to Redis: a TCP proxy in front of the real server that parses
// the client's RESP requests. commands: every command (a pipeline of 10 is 10); roundTrips:
// per connection, each burst of requests sent after a reply came back (a pipeline, or commands
// written in one tick, is one); bytes: both directions.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface RedisCounts {
  commands: number;
  roundTrips: number;
  bytes: number;
}

/** Counts top-level RESP arrays (commands) in a request stream that arrives in chunks. */
class RespCounter {
  private buffer: Buffer = Buffer.alloc(0);
  /** Bulk strings still to skip in the current command, and bytes still to skip of the current one. */
  private argsLeft = 0;
  private skip = 0;

  /** Feeds a chunk; returns the number of commands it completed. */
  feed(chunk: Buffer): number {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let done = 0;
    let at = 0;
    for (;;) {
      if (this.skip > 0) {
        const taken = Math.min(this.skip, this.buffer.length - at);
        this.skip -= taken;
        at += taken;
        if (this.skip > 0) break;
        this.argsLeft -= 1;
        if (this.argsLeft === 0) done += 1;
        continue;
      }
      const end = this.buffer.indexOf('\r\n', at);
      if (end < 0) break;
      const type = String.fromCharCode(this.buffer[at]!);
      const size = Number(this.buffer.toString('latin1', at + 1, end));
      at = end + 2;
      if (type === '*' && this.argsLeft === 0) {
        this.argsLeft = size;
        if (size <= 0) done += 1;
      } else if (type === '$') {
        this.skip = size + 2;
      }
    }
    this.buffer = this.buffer.subarray(at);
    return done;
  }
}

export class RedisCountingProxy {
  counts: RedisCounts = { commands: 0, roundTrips: 0, bytes: 0 };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** A proxy on a free loopback port in front of redis at host:port. */
  static async start(target: { host: string; port: number }): Promise<RedisCountingProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const proxy = new RedisCountingProxy(server, `redis://127.0.0.1:${port}`);
    server.on('connection', (client) => proxy.relay(client, target));
    return proxy;
  }

  /** The counts since the last call; starts new ones. */
  takeCounts(): RedisCounts {
    const counts = this.counts;
    this.counts = { commands: 0, roundTrips: 0, bytes: 0 };
    return counts;
  }

  private relay(client: Socket, target: { host: string; port: number }): void {
    const server = createConnection(target);
    const parser = new RespCounter();
    // A reply came since the client last wrote: its next write starts a round trip.
    let replied = true;
    this.sockets.add(client).add(server);
    client.on('data', (chunk: Buffer) => {
      this.counts.bytes += chunk.length;
      this.counts.commands += parser.feed(chunk);
      if (replied) this.counts.roundTrips += 1;
      replied = false;
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      this.counts.bytes += chunk.length;
      replied = true;
      client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      server.destroy();
      this.sockets.delete(client);
      this.sockets.delete(server);
    };
    client.on('close', end).on('error', end);
    server.on('close', end).on('error', end);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
