/**
 * Shoal's embedding API: createBroker, its configuration, and the types a
 * host application sees. Main thread.
 */
export { Broker, createBroker, type BrokerAddresses, type BrokerStats, type PublishOptions } from './broker.js';
export { defaultConfig, resolveConfig, type BrokerConfig, type LogLevel, type SharedSubscriptionStrategy } from './config.js';
export type { AppMessage, MessageProperties, QoS } from './app-message.js';
export { ReasonCode } from './codec/reason-codes.js';
