import { freeLoopbackPort } from '../../src/observability/ops-server';

/** A port on 127.0.0.1 that nothing listens on right now (the OS picks it): the one helper production uses too. */
export const freePort = freeLoopbackPort;
