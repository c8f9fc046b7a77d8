import { execFileSync } from 'node:child_process';
import net from 'node:net';

/**
 * A network namespace made by the test (`ip netns` + a veth pair), standing in for another machine: processes run in
 * it with `ip netns exec` see only their own loopback and the veth link. The services of the root namespace (Temporal,
 * PostgreSQL, sshd, all on 127.0.0.1) are reached through TCP forwarders on the root side of the link, as another
 * upload host reaches them across a network. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), as CI has.
 */
export interface NetworkNamespace {
  readonly name: string;
  /** The root namespace's end of the link: what processes inside use as the "server" address. */
  readonly serverAddress: string;
  /** The namespace's own address on the link. */
  readonly ownAddress: string;
  /** Makes 127.0.0.1:`port` of the root namespace reachable from inside as serverAddress:`port`. */
  forward(port: number): Promise<void>;
  /** Stops every forwarded connection: the link goes down as a cable pulled would make it. */
  cleanup(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this machine lets the test make namespaces (root with the capabilities). */
export function canMakeNetworkNamespaces(): boolean {
  const probe = `grprobe${process.pid % 100000}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

export async function createNetworkNamespace(index: number): Promise<NetworkNamespace> {
  const tag = `${process.pid % 10000}${index}`;
  const name = `grns${tag}`;
  const outside = `grv${tag}`;
  const inside = `grp${tag}`;
  // One /30 per namespace, from the pid: parallel runs on one machine do not collide.
  const third = (process.pid % 250) + 1;
  const fourth = index * 4;
  const serverAddress = `10.213.${third}.${fourth + 1}`;
  const ownAddress = `10.213.${third}.${fourth + 2}`;
  ip('netns', 'add', name);
  try {
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', name);
    ip('addr', 'add', `${serverAddress}/30`, 'dev', outside);
    ip('link', 'set', outside, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${ownAddress}/30`, 'dev', inside);
    ip('netns', 'exec', name, 'ip', 'link', 'set', inside, 'up');
  } catch (err) {
    try {
      ip('netns', 'del', name);
    } catch {
      /* already gone */
    }
    throw err;
  }
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  return {
    name,
    serverAddress,
    ownAddress,
    async forward(port) {
      const server = net.createServer((client) => {
        const upstream = net.connect(port, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.once('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, serverAddress, () => resolve());
      });
    },
    async cleanup() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      try {
        ip('link', 'del', outside); // takes its peer inside the namespace with it
      } catch {
        /* already gone */
      }
      try {
        ip('netns', 'del', name);
      } catch {
        /* already gone */
      }
    },
  };
}
