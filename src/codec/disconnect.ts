/**
 * The one server DISCONNECT the main thread writes itself (keepalive timeout,
 * oversized packet): a 5.0 DISCONNECT with a reason code and no properties.
 * 3.1.1 has no server DISCONNECT; the connection is just closed. Any thread.
 */
export function encodeDisconnectV5(reasonCode: number): Buffer {
  return Buffer.from([0xe0, 0x01, reasonCode]);
}
