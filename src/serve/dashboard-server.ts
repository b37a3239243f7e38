/**
 * Starts the dashboard on a port: loopback by default, so nothing is reachable from another
 * machine unless the caller asks for another host.
 */
import type { AddressInfo } from 'node:net';

import { serve, type ServerType } from '@hono/node-server';

import { InputError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import type { Rng } from '../util/rng.ts';
import { createDashboardApp } from './dashboard-app.ts';

export interface DashboardServerOptions {
  runsDir: string;
  /** Port; 0 picks a free one. Default 0. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. Anything else exposes labels and samples. */
  host?: string;
  webDir?: string;
  rng?: Rng;
  logger?: Logger;
}

export interface DashboardServer {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** A failed bind as an input fault the user can act on; anything else passes through. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new InputError(
      `port ${port} is in use on ${host}; pass --port <n>, or --port 0 for any free port`,
      { field: '--port' },
      { cause: error },
    );
  }
  if (error.code === 'EACCES') {
    return new InputError(
      `no permission to listen on port ${port} of ${host}; pass a port above 1023, or --port 0`,
      { field: '--port' },
      { cause: error },
    );
  }
  if (error.code === 'EADDRNOTAVAIL') {
    return new InputError(`${host} is not an address of this machine; pass --host 127.0.0.1`, {
      field: '--host',
    });
  }
  return error;
}

export async function startDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const loopback = isLoopback(host);
  if (!loopback) {
    logger.warn(
      { host },
      'dashboard bound beyond loopback: it has no authentication, so anyone who can reach it ' +
        'can read the runs and add labels',
    );
  }
  const { app, close } = createDashboardApp({
    runsDir: options.runsDir,
    webDir: options.webDir,
    rng: options.rng,
    logger,
    allowAnyHost: !loopback,
  });

  const port = options.port ?? 0;
  const server = await new Promise<ServerType>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(started));
    started.once('error', (error: NodeJS.ErrnoException) => {
      close();
      reject(listenError(error, host, port));
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        close();
        server.close(() => resolve());
        // Polling pages hold keep-alive sockets open; do not wait for them to idle out.
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
