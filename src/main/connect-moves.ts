/**
 * CONNECTs moving between actor hosts. A host whose auth_on_register gave a
 * CONNECT a subscriber id that another host owns (placement.ts) asks to
 * move it there (`moveConnect`); the main thread asks that host to release
 * it (`releaseConnect`) and, until it did (`connectReleased`, with the
 * connection's packets it held), keeps the packets the connection sends
 * meanwhile, in order, for the new host. A close meanwhile abandons the
 * move, and so does the failure of the host it moves from. Main thread.
 */
import { MOVING, type Connection } from './net/connection.js';

export interface ConnectMove {
  conn: Connection;
  /** The host the CONNECT was placed on, which releases it. */
  from: number;
  /** The host it continues on. */
  to: number;
  /** The connection's packets that came after the move began, in order. */
  queued: Buffer[];
}

export class ConnectMoves {
  private readonly moves = new Map<number, ConnectMove>();

  /** `conn`, served by host `from`, moves to host `to`: its host is MOVING until finish(). */
  start(conn: Connection, from: number, to: number): void {
    conn.host = MOVING;
    this.moves.set(conn.id, { conn, from, to, queued: [] });
  }

  /** A packet of a moving connection, kept for its new host. */
  hold(conn: Connection, packet: Buffer): void {
    this.moves.get(conn.id)?.queued.push(packet);
  }

  /** Host `from` released the CONNECT of `connId`: the move, its connection now served by `to`; undefined when it was abandoned. */
  finish(connId: number): ConnectMove | undefined {
    const move = this.moves.get(connId);
    if (move === undefined) return undefined;
    this.moves.delete(connId);
    move.conn.host = move.to;
    return move;
  }

  /** The connection closed while moving: its CONNECT is abandoned, and the release that may still come is ignored. */
  abandon(conn: Connection): void {
    this.moves.delete(conn.id);
  }

  /** Host `host` failed: the connections moving away from it are never released, their moves are abandoned. */
  lostHost(host: number): Connection[] {
    const lost: Connection[] = [];
    for (const move of this.moves.values()) if (move.from === host) lost.push(move.conn);
    for (const conn of lost) this.moves.delete(conn.id);
    return lost;
  }
}
