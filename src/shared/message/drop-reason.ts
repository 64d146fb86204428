/**
 * Why a message meant for a subscriber was dropped (on_message_drop, the
 * `dropped` frame, the drop counters). Plain data; used on every thread.
 */

/**
 * A session queue (or, for QoS 0, the connection's socket buffer) was full,
 * the Message Expiry Interval passed while the message waited, or the
 * message is over the client's Maximum Packet Size.
 */
export type DropReason = 'queue_full' | 'expired' | 'max_packet_size_exceeded';
