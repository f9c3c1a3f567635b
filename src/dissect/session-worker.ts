// Entry of a dissector thread (see session-threads.ts): serves the sessions its ring carries until told to stop.
import { workerData } from 'node:worker_threads';
import { serveSessions, type SessionThreadData } from './session-ring.js';

serveSessions(workerData as SessionThreadData);
